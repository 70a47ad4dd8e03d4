using System.Diagnostics;
using System.Threading.Channels;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Policies;
using Rlef.Training.Actors;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;

namespace Rlef.Training.Rollouts;

/// <summary>One sampled turn exactly as the model saw and produced it.</summary>
/// <param name="PromptTokens">Tokens appended before the reply: the whole first prompt, or the end of the previous
/// assistant turn + the feedback message + the next assistant header (the chat format's continuation).</param>
public sealed record SampledTurn(int[] PromptTokens, int[] ReplyTokens, float[] LogProbs, FinishReason FinishReason);

/// <summary>
/// A token sampler (the in-process model, or an inference server) as the environment's <see cref="IPolicy"/>. Many
/// episodes run at once and each asks for its next reply; the requests are pooled and answered by one batched
/// sampling call, so generation is batched across episodes and overlaps sandbox runs. Either episodes still in the
/// sandbox join the next batch (a batch window), or, in lock step (in-process only), every round waits for all live
/// episodes (reproducible bit for bit). An in-process sampler samples one batch at a time; a remote one keeps several
/// batches in flight.
/// Every turn's exact token ids are recorded per rollout index: the prompt of turn t+1 is the chat format's
/// continuation appended to the tokens so far, never a re-tokenisation of the conversation (docs/protocol.md §3).
/// </summary>
public sealed class EnginePolicy : IPolicy
{
    sealed record Request(int HistoryKey, int Seed, float? Temperature, int[] Prompt, int[] FullContext, string? Prefix, TaskCompletionSource<PolicyReply> Reply);

    readonly IChatFormat _format;
    readonly SamplingOptions _sampling;
    readonly int _maxBatch;
    readonly TimeSpan _window;
    readonly bool _lockStep;
    readonly ITokenSampler _sampler;
    readonly string _description;
    readonly TemperatureRange? _temperatures;
    readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>();
    readonly Dictionary<int, List<SampledTurn>> _turns = [];
    readonly Dictionary<int, List<int>> _context = [];
    readonly Lock _lock = new();
    int _calls;

    /// <param name="lockStep">Sample only once every live episode waits for its reply, in the order of the history
    /// keys: the batches then depend only on which episodes are still running, never on the sandbox's timing, so a run
    /// is reproducible bit for bit (a sequence's logits change in the last bits with the batch it is decoded in: the
    /// GEMM kernel depends on the number of rows, attention's summation order on the left padding). It needs the exact
    /// number of live episodes from <see cref="ServeAsync"/>'s caller.</param>
    /// <param name="generator">A generator of <paramref name="model"/> to reuse (its KV cache stays allocated between
    /// policies: a trainer that made a new one per collection churned hundreds of MB through the large-object heap);
    /// null makes a new one. Not thread-safe: one policy at a time may use it.</param>
    /// <param name="temperatures">Draw each reply's temperature from this range instead of the sampling options' (the
    /// paper's SFT data, App. A.3); null: the options' temperature for every reply.</param>
    public EnginePolicy(LlamaModel model, IChatFormat format, SamplingOptions sampling, int maxBatch, TimeSpan batchWindow, bool lockStep = false,
        Generator? generator = null, TemperatureRange? temperatures = null)
        : this(new EngineSampler(model, generator: generator), $"engine ({model.Config.ModelType}, {model.ParameterCount:N0} parameters", format, sampling, maxBatch, batchWindow, lockStep)
    {
        temperatures?.Validate();
        _temperatures = temperatures;
    }

    /// <summary>A policy over any sampler (an actor: the embedded engine or an inference server), with a batch window.</summary>
    public EnginePolicy(ITokenSampler sampler, IChatFormat format, SamplingOptions sampling, int maxBatch, TimeSpan batchWindow)
        : this(sampler, $"{sampler.Name} (remote", format, sampling, maxBatch, batchWindow, lockStep: false)
    {
    }

    EnginePolicy(ITokenSampler sampler, string description, IChatFormat format, SamplingOptions sampling, int maxBatch, TimeSpan batchWindow, bool lockStep)
    {
        if (maxBatch <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, "must be > 0");
        if (lockStep && sampler is not EngineSampler) throw new ArgumentException("lock step is for the in-process sampler", nameof(lockStep));
        _sampler = sampler;
        _description = description;
        _format = format;
        _sampling = sampling with { StopTokenIds = format.StopIds };
        _maxBatch = maxBatch;
        _window = batchWindow;
        _lockStep = lockStep;
    }

    /// <summary>Seconds spent inside batched generation calls.</summary>
    public double GenerationSeconds { get; private set; }
    /// <summary>Replies sampled and their total tokens.</summary>
    public int Replies { get; private set; }
    public long SampledTokens { get; private set; }
    public int GenerationCalls => _calls;

    public string Describe() => $"{_description}, T={(_temperatures?.ToString() ?? _sampling.Temperature.ToString(System.Globalization.CultureInfo.InvariantCulture))}, top-p={_sampling.TopP})";

    /// <summary>The turns sampled for <paramref name="rolloutIndex"/>, in order.</summary>
    public IReadOnlyList<SampledTurn> TurnsOf(int rolloutIndex)
    {
        lock (_lock) return _turns.TryGetValue(rolloutIndex, out var t) ? t.ToArray() : [];
    }

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
        ReplyAsync(conversation, context, context.RolloutIndex, cancellationToken);

    /// <summary>
    /// A reply whose token history is kept under <paramref name="historyKey"/> (see <see cref="TurnsOf"/>) rather than
    /// under the context's rollout index: for a caller whose rollout indices repeat across tasks. The random stream
    /// still comes from the context (task, rollout, turn), so the draws do not depend on how keys were handed out.
    /// </summary>
    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, int historyKey, CancellationToken cancellationToken)
    {
        int[] prompt;
        int[] full;
        lock (_lock)
        {
            _turns.TryGetValue(historyKey, out var previous);
            int turn = previous?.Count ?? 0;
            if (turn != context.TurnIndex)
                throw new InvalidOperationException($"{context.TaskId} rollout {context.RolloutIndex}: asked for turn {context.TurnIndex + 1} after {turn} sampled turns");
            // A few-shot prompt puts whole example conversations (user/assistant pairs) before the episode's own messages.
            if (conversation.Messages.Count < 2 * turn + 1 || conversation.Messages.Count % 2 == 0 || conversation.Messages[^1].Role != "user")
                throw new InvalidOperationException($"{context.TaskId} rollout {context.RolloutIndex}: turn {turn + 1} expects 2k + {2 * turn + 1} messages (k example pairs) ending with the user's, got {conversation.Messages.Count}");
            if (turn == 0)
            {
                prompt = _format.EncodeChat(conversation.Messages.Select(m => new EngineMessage(m.Role, m.Content)).ToList(), addGenerationPrompt: true);
                _context[historyKey] = [];
            }
            else
            {
                // Continue from the exact sampled ids: close the assistant turn unless its stop token was sampled.
                bool closed = previous![^1].FinishReason == FinishReason.StopToken;
                prompt = _format.EncodeContinuation(conversation.Messages[^1].Content, assistantTurnClosed: closed);
            }
            if (conversation.AssistantPrefix is { Length: > 0 } prefix)
                prompt = [.. prompt, .. _format.Tokenizer.Encode(prefix)];
            var all = _context[historyKey];
            all.AddRange(prompt);
            full = all.ToArray();
        }
        float? temperature = _temperatures is null ? null : (float)_temperatures.Draw(context);
        var request = new Request(historyKey, TurnSeed(_sampling.Seed, context), temperature, prompt, full, conversation.AssistantPrefix,
            new TaskCompletionSource<PolicyReply>(TaskCreationOptions.RunContinuationsAsynchronously));
        cancellationToken.Register(() => request.Reply.TrySetCanceled(cancellationToken));
        _requests.Writer.TryWrite(request);
        return request.Reply.Task;
    }

    /// <summary>
    /// The random stream of one reply, named by (seed, task, rollout, turn): a reply's draws do not depend on which
    /// other requests shared its batch, so an evaluation is reproducible and two evaluations with the same seed (two
    /// policies, or real vs random feedback) use common random numbers, which makes their difference less noisy.
    /// </summary>
    public static int TurnSeed(int seed, PolicyContext context)
    {
        uint task = 2166136261; // FNV-1a of the task id: stable across processes, unlike string.GetHashCode
        foreach (char c in context.TaskId) task = (task ^ c) * 16777619;
        int perTask = Generator.SequenceSeed(seed, unchecked((int)task));
        return Generator.SequenceSeed(perTask, context.RolloutIndex * 64 + context.TurnIndex);
    }

    /// <summary>
    /// Answers requests in batches until <paramref name="finished"/> completes (all episodes done).
    /// <paramref name="liveEpisodes"/> says how many episodes are still running: once that many are waiting, the batch
    /// is sampled at once; otherwise the batch waits at most the batch window for episodes in the sandbox.
    /// </summary>
    public async Task ServeAsync(Func<int> liveEpisodes, Task finished, CancellationToken cancellationToken)
    {
        if (_lockStep)
        {
            await ServeLockStepAsync(liveEpisodes, finished, cancellationToken);
            return;
        }
        var inFlight = new List<Task>();
        try
        {
            await ServeBatchesAsync(liveEpisodes, finished, inFlight, cancellationToken);
        }
        finally
        {
            await Task.WhenAll(inFlight); // remote batches still being answered (each completes its own requests)
        }
    }

    async Task ServeBatchesAsync(Func<int> liveEpisodes, Task finished, List<Task> inFlight, CancellationToken cancellationToken)
    {
        while (true)
        {
            // A cancelled wait completes at once: without this check the loops below would spin.
            cancellationToken.ThrowIfCancellationRequested();
            Task<bool> ready = _requests.Reader.WaitToReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(ready, finished) == finished && !_requests.Reader.TryPeek(out _)) return;
            var batch = new List<Request>();
            while (batch.Count < _maxBatch)
            {
                while (batch.Count < _maxBatch && _requests.Reader.TryRead(out Request? r)) batch.Add(r);
                if (batch.Count >= _maxBatch || batch.Count >= liveEpisodes()) break;
                cancellationToken.ThrowIfCancellationRequested();
                Task<bool> more = _requests.Reader.WaitToReadAsync(cancellationToken).AsTask();
                if (await Task.WhenAny(more, Task.Delay(_window, cancellationToken)) != more) break;
            }
            batch.RemoveAll(r => r.Reply.Task.IsCompleted);
            if (batch.Count == 0) continue;
            if (_sampler is EngineSampler) Sample(batch);
            else
            {
                // Remote: the loop goes on pooling the next requests while the server answers this batch.
                inFlight.RemoveAll(t => t.IsCompleted);
                inFlight.Add(SampleRemoteAsync(batch, cancellationToken));
            }
        }
    }

    /// <summary>
    /// Lock-step batching: once every live episode waits (each has at most one request outstanding), all their
    /// requests are sampled, sorted by history key, in batches of at most the maximum size. By induction every round
    /// holds the same episodes in every run: round t is the turn t of the episodes still running. The batch window is
    /// only how often the live count is checked.
    /// </summary>
    async Task ServeLockStepAsync(Func<int> liveEpisodes, Task finished, CancellationToken cancellationToken)
    {
        var waiting = new List<Request>();
        while (true)
        {
            while (_requests.Reader.TryRead(out Request? r)) waiting.Add(r);
            waiting.RemoveAll(r => r.Reply.Task.IsCompleted);
            if (waiting.Count > 0 && waiting.Count >= liveEpisodes())
            {
                waiting.Sort((a, b) => a.HistoryKey.CompareTo(b.HistoryKey));
                foreach (Request[] chunk in waiting.Chunk(_maxBatch)) Sample([.. chunk]);
                waiting.Clear();
                continue;
            }
            if (finished.IsCompleted && waiting.Count == 0 && !_requests.Reader.TryPeek(out _)) return;
            Task<bool> more = _requests.Reader.WaitToReadAsync(cancellationToken).AsTask();
            await Task.WhenAny(more, finished, Task.Delay(_window, cancellationToken));
        }
    }

    // In-process: the batch is sampled on this loop (the CPU is busy anyway), exactly one generator call per batch.
    void Sample(List<Request> batch)
    {
        var clock = Stopwatch.StartNew();
        Interlocked.Increment(ref _calls);
        IReadOnlyList<Generation> generations;
        try
        {
            generations = ((EngineSampler)_sampler).Sample(batch.Select(r => new SampleRequest(r.FullContext, r.Seed, r.Temperature)).ToList(), _sampling);
        }
        catch (Exception e)
        {
            foreach (Request r in batch) r.Reply.TrySetException(e);
            return;
        }
        GenerationSeconds += clock.Elapsed.TotalSeconds;
        Complete(batch, generations);
    }

    async Task SampleRemoteAsync(List<Request> batch, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Interlocked.Increment(ref _calls);
        IReadOnlyList<Generation> generations;
        try
        {
            generations = await _sampler.SampleAsync(batch.Select(r => new SampleRequest(r.FullContext, r.Seed)).ToList(), _sampling, cancellationToken);
        }
        catch (Exception e)
        {
            foreach (Request r in batch) r.Reply.TrySetException(e);
            return;
        }
        lock (_lock) GenerationSeconds += clock.Elapsed.TotalSeconds;
        Complete(batch, generations);
    }

    void Complete(List<Request> batch, IReadOnlyList<Generation> generations)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            Request r = batch[i];
            Generation g = generations[i];
            lock (_lock)
            {
                if (!_turns.TryGetValue(r.HistoryKey, out var turns)) _turns[r.HistoryKey] = turns = [];
                turns.Add(new SampledTurn(r.Prompt, g.Tokens, g.LogProbs, g.FinishReason));
                _context[r.HistoryKey].AddRange(g.Tokens);
                Replies++;
                SampledTokens += g.Tokens.Length;
            }
            string text = (r.Prefix ?? "") + _format.Tokenizer.Decode(g.Tokens, skipSpecialTokens: true);
            r.Reply.TrySetResult(new PolicyReply(text, g.Tokens.Length, r.Temperature));
        }
    }
}
