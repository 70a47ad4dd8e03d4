using Rlef.Engine.Layers;
using Rlef.Engine.Model;

namespace Rlef.Engine.Sampling;

/// <summary>
/// Batched sampling from a language model with a KV cache. Prompts of different lengths are left-padded (see
/// <see cref="KvCache"/>): after one prefill every sequence's next token sits in the same column, so each step is one
/// forward over the B new tokens of the sequences still running (finished ones are compacted out of the cache).
/// Keeps its cache and scratch between calls; not thread-safe.
/// </summary>
public sealed class Generator
{
    private readonly LlamaModel _model;
    private KvCache? _cache;
    private TokenSampler[] _samplers = [];
    // The prompt grid and a step's logits, kept between calls (at batch 64 and a 2048-token vocabulary they are
    // large-object-heap arrays, which a call each allocated anew: hundreds of MB of garbage per RL iteration).
    private int[] _grid = [];
    private float[] _logits = [];

    private static T[] Grown<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) { buffer = []; buffer = new T[length]; }
        return buffer;
    }

    /// <summary>The model this generator samples from.</summary>
    public LlamaModel Model => _model;

    public Generator(LlamaModel model)
    {
        if (model.Head != ModelHead.LanguageModel) throw new ArgumentException("Generation needs a language model, not a value model.");
        _model = model;
    }

    /// <summary>
    /// Samples a continuation of every prompt. decode turns token ids into text; it is needed only for stop strings, and
    /// only the last few tokens (enough to hold the longest stop string) are decoded at each step. Sequence i draws from
    /// its own random stream seeded by (options.Seed, i), so results do not depend on threading or on other sequences'
    /// lengths. <paramref name="sequenceSeeds"/>, when given, seeds sequence i's stream directly instead: a caller that
    /// names each sequence (e.g. by task, rollout and turn) then gets the same draws however its requests were batched.
    /// <paramref name="sequenceTemperatures"/>, when given, replaces the options' temperature per sequence (a temperature
    /// drawn per reply, as for the paper's SFT data).
    /// </summary>
    public IReadOnlyList<Generation> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, SamplingOptions options,
        Func<IReadOnlyList<int>, string>? decode = null, IReadOnlyList<int>? sequenceSeeds = null,
        IReadOnlyList<float>? sequenceTemperatures = null)
    {
        if (sequenceSeeds != null && sequenceSeeds.Count != prompts.Count)
            throw new ArgumentException($"{sequenceSeeds.Count} sequence seeds for {prompts.Count} prompts", nameof(sequenceSeeds));
        if (sequenceTemperatures != null && sequenceTemperatures.Count != prompts.Count)
            throw new ArgumentException($"{sequenceTemperatures.Count} sequence temperatures for {prompts.Count} prompts", nameof(sequenceTemperatures));
        options.Validate();
        // One options record per sequence, made once (not per token).
        var perSequence = new SamplingOptions[prompts.Count];
        for (int b = 0; b < perSequence.Length; b++)
        {
            perSequence[b] = sequenceTemperatures is null ? options : options with { Temperature = sequenceTemperatures[b] };
            perSequence[b].Validate();
        }
        if (prompts.Count == 0) return [];
        if (options.StopStrings.Count > 0 && decode == null) throw new ArgumentException("Stop strings need a decode function.");
        int batch = prompts.Count, vocab = _model.Config.VocabSize;
        int maxPrompt = 0;
        for (int b = 0; b < batch; b++)
        {
            if (prompts[b].Count == 0) throw new ArgumentException($"Prompt {b} is empty: a prompt needs at least one token (e.g. BOS).");
            maxPrompt = Math.Max(maxPrompt, prompts[b].Count);
        }
        int capacity = maxPrompt + options.MaxTokens;
        if (_cache == null || _cache.MaxBatch < batch || _cache.Capacity < capacity)
        {
            // Grown to the largest batch and capacity seen so far (capacity in steps of 256 columns): multi-turn prompts
            // lengthen call after call, and a cache rebuilt for each few more columns churned the large-object heap.
            int grownBatch = Math.Max(batch, _cache?.MaxBatch ?? 0);
            int grownCapacity = (Math.Max(capacity, _cache?.Capacity ?? 0) + 255) & ~255;
            _cache = null; // release the old cache before allocating the new one
            _cache = _model.CreateKvCache(grownBatch, grownCapacity);
        }
        if (_samplers.Length < batch)
            _samplers = Enumerable.Range(0, batch).Select(_ => new TokenSampler(vocab)).ToArray();

        // Left-padded prompt grid [B, maxPrompt]; padding repeats the prompt's first token (masked out anyway).
        var grid = Grown(ref _grid, batch * maxPrompt);
        var start = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            var p = prompts[b];
            start[b] = maxPrompt - p.Count;
            for (int t = 0; t < maxPrompt; t++) grid[b * maxPrompt + t] = t < start[b] ? p[0] : p[t - start[b]];
        }
        _cache.Reset(start);
        var rngs = new Random[batch];
        for (int b = 0; b < batch; b++) rngs[b] = new Random(sequenceSeeds?[b] ?? SequenceSeed(options.Seed, b));

        var tokens = new List<int>[batch];
        var logProbs = new List<float>[batch];
        var reasons = new FinishReason?[batch];
        for (int b = 0; b < batch; b++) { tokens[b] = new List<int>(); logProbs[b] = new List<float>(); }
        // A stop string of L characters spans at most 4·L byte-level tokens (UTF-8 has at most 4 bytes a character).
        int stopWindow = options.StopStrings.Count == 0 ? 0 : 4 * options.StopStrings.Max(s => s.Length) + 8;
        var stopTokens = new HashSet<int>(options.StopTokenIds);
        var next = new int[batch];
        var sampledLogProb = new float[batch];
        var rowSequence = Enumerable.Range(0, batch).ToArray(); // cache row → sequence index
        var keep = new List<int>(batch);

        var logits = Grown(ref _logits, batch * vocab);
        // Every step multiplies by the same weights: pack them once for this call, not once per step.
        using var packedWeights = _model.UsePackedWeights();
        _model.Decode(_cache, grid.AsSpan(0, batch * maxPrompt), maxPrompt).CopyTo(logits);
        for (int step = 0; step < options.MaxTokens; step++)
        {
            int rows = rowSequence.Length;
            var rowMap = rowSequence;
            Parallelism.For(rows, 4L * vocab, r =>
                (next[r], sampledLogProb[r]) = _samplers[r].Sample(logits.AsSpan(r * vocab, vocab), perSequence[rowMap[r]], rngs[rowMap[r]]));
            keep.Clear();
            for (int r = 0; r < rows; r++)
            {
                int b = rowSequence[r];
                tokens[b].Add(next[r]);
                logProbs[b].Add(sampledLogProb[r]);
                if (stopTokens.Contains(next[r])) reasons[b] = FinishReason.StopToken;
                else if (stopWindow > 0 && ContainsStopString(tokens[b], stopWindow, options.StopStrings, decode!)) reasons[b] = FinishReason.StopString;
                else keep.Add(r);
            }
            if (keep.Count == 0 || step == options.MaxTokens - 1) break;
            if (keep.Count < rows)
            {
                // Finished sequences leave the batch: the remaining steps cost only what is still being generated.
                _cache.Compact(keep.ToArray());
                rowSequence = keep.Select(r => rowSequence[r]).ToArray();
                for (int i = 0; i < keep.Count; i++) next[i] = next[keep[i]];
            }
            _model.Decode(_cache, next.AsSpan(0, rowSequence.Length), 1).CopyTo(logits);
        }

        var results = new Generation[batch];
        for (int b = 0; b < batch; b++)
            results[b] = new Generation(tokens[b].ToArray(), logProbs[b].ToArray(), reasons[b] ?? FinishReason.Length);
        return results;
    }

    // A fixed mix of (seed, index) (SplitMix64's finaliser): reproducible across processes, unlike HashCode.Combine.
    public static int SequenceSeed(int seed, int index)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }

    private static bool ContainsStopString(List<int> generated, int window, IReadOnlyList<string> stops, Func<IReadOnlyList<int>, string> decode)
    {
        int from = Math.Max(0, generated.Count - window);
        string tail = decode(generated.GetRange(from, generated.Count - from));
        foreach (var s in stops)
            if (tail.Contains(s, StringComparison.Ordinal)) return true;
        return false;
    }
}
