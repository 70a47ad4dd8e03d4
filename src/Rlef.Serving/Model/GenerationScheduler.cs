using System.Diagnostics;
using System.Threading.Channels;
using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;

namespace Rlef.Serving.Model;

/// <summary>What the scheduler counts for /metrics.</summary>
public sealed class SchedulerCounters
{
    public long Batches;
    public long Sequences;
    public long SampledTokens;
    public long PromptTokens;
    public double GenerationSeconds;
    public int LastBatchSize;
    public long WeightVersion;
}

/// <summary>
/// Turns concurrent requests into batched calls of the engine's <see cref="Generator"/> on one dedicated thread:
/// whatever is waiting when the previous batch ends is sampled together (up to the batch limit), grouped by the
/// options a batch must share (temperature, top-p, top-k, stops). Each sequence draws from its own stream seeded by
/// its request, and a request asking for fewer tokens than its batch's longest gets its own prefix back (a
/// sequence's token k depends only on its prompt, its earlier tokens and its own stream), so a request's tokens do
/// not depend on what else was in the batch. Weight reloads run between batches.
/// </summary>
public sealed class GenerationScheduler : IAsyncDisposable
{
    sealed record Job(int[] Prompt, SamplingOptions Options, TaskCompletionSource<Generation> Done, CancellationToken Cancel);
    sealed record Reload(string Directory, string? Version, TaskCompletionSource Done);

    readonly LlamaModel _model;
    readonly ITokenizer _tokenizer;
    readonly Generator _generator;
    readonly int _maxBatch;
    readonly Channel<object> _work = Channel.CreateUnbounded<object>();
    readonly List<Job> _pending = [];
    readonly Thread _thread;
    readonly CancellationTokenSource _stop = new();
    int _queued;

    readonly TimeSpan _gatherWindow;

    /// <summary>An idle scheduler samples once no request has arrived for this long (or the gather window is over).</summary>
    static readonly TimeSpan QuietTime = TimeSpan.FromMilliseconds(4);

    /// <param name="gatherWindow">The longest an idle scheduler waits for more requests before it samples (default 50 ms).</param>
    public GenerationScheduler(LlamaModel model, ITokenizer tokenizer, int maxBatch, TimeSpan? gatherWindow = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _gatherWindow = gatherWindow ?? TimeSpan.FromMilliseconds(50);
        _model = model;
        _tokenizer = tokenizer;
        _generator = new Generator(model);
        _maxBatch = maxBatch;
        _thread = new Thread(Loop) { IsBackground = true, Name = "rlef-generation" };
        _thread.Start();
    }

    public SchedulerCounters Counters { get; } = new();
    /// <summary>Requests waiting for a batch (not counting the batch being sampled).</summary>
    public int QueueLength => Volatile.Read(ref _queued);
    public string WeightVersion { get; private set; } = "0";
    /// <summary>Called on the generation thread after each batch with its size (for the batch-size histogram).</summary>
    public Action<int>? BatchSampled { get; set; }

    /// <summary>Samples one continuation of <paramref name="prompt"/>.</summary>
    public Task<Generation> SubmitAsync(int[] prompt, SamplingOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        var job = new Job(prompt, options, new TaskCompletionSource<Generation>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        Interlocked.Increment(ref _queued);
        if (!_work.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _queued);
            throw new InvalidOperationException("the generation scheduler has stopped");
        }
        return job.Done.Task;
    }

    /// <summary>Loads new weights (Hugging Face layout in <paramref name="directory"/>) between batches.</summary>
    public Task ReloadAsync(string directory, string? version)
    {
        var reload = new Reload(directory, version, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_work.Writer.TryWrite(reload)) throw new InvalidOperationException("the generation scheduler has stopped");
        return reload.Done.Task;
    }

    void Loop()
    {
        var reader = _work.Reader;
        while (true)
        {
            if (_pending.Count == 0)
            {
                // Block for the next item (the loop owns a thread: blocking here costs nothing).
                try
                {
                    if (!reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult()) return;
                }
                catch (OperationCanceledException) { return; }
                // Requests sent together arrive a little apart (more so on a loaded machine): gather them until none
                // has arrived for a few milliseconds (at most the gather window), so that they share one batch instead
                // of the first one running alone while the others wait for it. A lone request waits only the quiet time.
                var window = Stopwatch.StartNew();
                var quiet = Stopwatch.StartNew();
                int seen = reader.Count;
                while (window.Elapsed < _gatherWindow && quiet.Elapsed < QuietTime && seen < _maxBatch)
                {
                    Thread.Sleep(1);
                    if (reader.Count != seen) { seen = reader.Count; quiet.Restart(); }
                }
            }
            while (reader.TryRead(out object? item))
            {
                if (item is Job job) _pending.Add(job);
                else if (item is Reload reload)
                {
                    // Jobs that arrived before the reload are sampled with the old weights first.
                    while (_pending.Count > 0) RunBatch();
                    DoReload(reload);
                }
            }
            if (_pending.Count > 0) RunBatch();
        }
    }

    void DoReload(Reload reload)
    {
        try
        {
            HfWeights.Load(reload.Directory, _model.Parameters, allowMissingLmHead: _model.Config.TieWordEmbeddings);
            WeightVersion = reload.Version ?? (long.Parse(WeightVersion, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Interlocked.Increment(ref Counters.WeightVersion);
            reload.Done.TrySetResult();
        }
        catch (Exception e)
        {
            reload.Done.TrySetException(e);
        }
    }

    // One batch: the oldest waiting job and every other waiting job that can share its options.
    void RunBatch()
    {
        _pending.RemoveAll(j =>
        {
            if (!j.Cancel.IsCancellationRequested) return false;
            Interlocked.Decrement(ref _queued);
            j.Done.TrySetCanceled(j.Cancel);
            return true;
        });
        if (_pending.Count == 0) return;
        SamplingOptions first = _pending[0].Options;
        var batch = _pending.Where(j => Compatible(j.Options, first)).Take(_maxBatch).ToList();
        foreach (Job j in batch) _pending.Remove(j);
        Interlocked.Add(ref _queued, -batch.Count);

        var options = first with { MaxTokens = batch.Max(j => j.Options.MaxTokens), Seed = 0 };
        var clock = Stopwatch.StartNew();
        IReadOnlyList<Generation> generations;
        try
        {
            generations = _generator.Generate(batch.Select(j => (IReadOnlyList<int>)j.Prompt).ToList(), options,
                decode: options.StopStrings.Count > 0 ? ids => _tokenizer.Decode(ids.ToArray()) : null,
                sequenceSeeds: batch.Select(j => j.Options.Seed).ToList());
        }
        catch (Exception e)
        {
            foreach (Job j in batch) j.Done.TrySetException(e);
            return;
        }
        double seconds = clock.Elapsed.TotalSeconds;
        lock (Counters)
        {
            Counters.Batches++;
            Counters.Sequences += batch.Count;
            Counters.GenerationSeconds += seconds;
            Counters.LastBatchSize = batch.Count;
            Counters.PromptTokens += batch.Sum(j => (long)j.Prompt.Length);
        }
        BatchSampled?.Invoke(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            Generation g = Truncate(generations[i], batch[i].Options);
            Interlocked.Add(ref Counters.SampledTokens, g.Tokens.Length);
            batch[i].Done.TrySetResult(g);
        }
    }

    static bool Compatible(SamplingOptions a, SamplingOptions b) =>
        a.Temperature == b.Temperature && a.TopP == b.TopP && a.TopK == b.TopK &&
        a.StopTokenIds.SequenceEqual(b.StopTokenIds) && a.StopStrings.SequenceEqual(b.StopStrings);

    // The request's own max_tokens: its prefix of the batch's longer generation.
    static Generation Truncate(Generation g, SamplingOptions own)
    {
        if (g.Tokens.Length <= own.MaxTokens) return g;
        return new Generation(g.Tokens[..own.MaxTokens], g.LogProbs[..own.MaxTokens], FinishReason.Length);
    }

    public async ValueTask DisposeAsync()
    {
        _work.Writer.TryComplete();
        await Task.Run(() => _thread.Join(TimeSpan.FromSeconds(60)));
        _stop.Cancel();
        _stop.Dispose();
    }
}
