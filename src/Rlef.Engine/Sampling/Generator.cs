using Rlef.Engine.Layers;
using Rlef.Engine.Model;

namespace Rlef.Engine.Sampling;

/// <summary>
/// Batched sampling from a language model with a KV cache. Prompts of different lengths are left-padded (see
/// <see cref="KvCache"/>): after one prefill every sequence's next token sits in the same column, so each step is one
/// forward over B new tokens. A finished sequence keeps its row until the batch ends (its samples are ignored).
/// Keeps its cache and scratch between calls; not thread-safe.
/// </summary>
public sealed class Generator
{
    private readonly LlamaModel _model;
    private KvCache? _cache;
    private TokenSampler[] _samplers = [];

    public Generator(LlamaModel model)
    {
        if (model.Head != ModelHead.LanguageModel) throw new ArgumentException("Generation needs a language model, not a value model.");
        _model = model;
    }

    /// <summary>
    /// Samples a continuation of every prompt. decode turns token ids into text; it is needed only for stop strings, and
    /// only the last few tokens (enough to hold the longest stop string) are decoded at each step.
    /// </summary>
    public IReadOnlyList<Generation> Generate(IReadOnlyList<IReadOnlyList<int>> prompts, SamplingOptions options,
        Func<IReadOnlyList<int>, string>? decode = null)
    {
        options.Validate();
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
        if (_cache == null || _cache.Batch != batch || _cache.Capacity < capacity)
        {
            _cache = null; // release the old cache before allocating the new one
            _cache = _model.CreateKvCache(batch, capacity);
        }
        if (_samplers.Length < batch)
            _samplers = Enumerable.Range(0, batch).Select(_ => new TokenSampler(vocab)).ToArray();

        // Left-padded prompt grid [B, maxPrompt]; padding repeats the prompt's first token (masked out anyway).
        var grid = new int[batch * maxPrompt];
        var start = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            var p = prompts[b];
            start[b] = maxPrompt - p.Count;
            for (int t = 0; t < maxPrompt; t++) grid[b * maxPrompt + t] = t < start[b] ? p[0] : p[t - start[b]];
        }
        _cache.Reset(start);
        var rngs = new Random[batch];
        for (int b = 0; b < batch; b++) rngs[b] = new Random(HashCode.Combine(options.Seed, b));

        var tokens = new List<int>[batch];
        var logProbs = new List<float>[batch];
        var reasons = new FinishReason?[batch];
        for (int b = 0; b < batch; b++) { tokens[b] = new List<int>(); logProbs[b] = new List<float>(); }
        int stopWindow = options.StopStrings.Count == 0 ? 0 : options.StopStrings.Max(s => s.Length) + 8;
        var stopTokens = new HashSet<int>(options.StopTokenIds);
        var next = new int[batch];
        var sampledLogProb = new float[batch];

        var logits = _model.Decode(_cache, grid, maxPrompt).ToArray();
        for (int step = 0; step < options.MaxTokens; step++)
        {
            var rowLogits = logits;
            Parallelism.For(batch, 4L * vocab, b =>
            {
                if (reasons[b] != null) { next[b] = grid[b * maxPrompt + maxPrompt - 1]; return; }
                (next[b], sampledLogProb[b]) = _samplers[b].Sample(rowLogits.AsSpan(b * vocab, vocab), options, rngs[b]);
            });
            bool anyActive = false;
            for (int b = 0; b < batch; b++)
            {
                if (reasons[b] != null) continue;
                tokens[b].Add(next[b]);
                logProbs[b].Add(sampledLogProb[b]);
                if (stopTokens.Contains(next[b])) reasons[b] = FinishReason.StopToken;
                else if (stopWindow > 0 && ContainsStopString(tokens[b], stopWindow, options.StopStrings, decode!)) reasons[b] = FinishReason.StopString;
                else anyActive = true;
            }
            if (!anyActive || step == options.MaxTokens - 1) break;
            _model.Decode(_cache, next, 1).CopyTo(logits);
        }

        var results = new Generation[batch];
        for (int b = 0; b < batch; b++)
            results[b] = new Generation(tokens[b].ToArray(), logProbs[b].ToArray(), reasons[b] ?? FinishReason.Length);
        return results;
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
