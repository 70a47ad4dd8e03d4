using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Policies;
using Rlef.Engine.IO;

namespace Rlef.Training.Rollouts;

/// <summary>
/// The project's own model as a policy for any episode runner (`rlef eval --policy model:DIR`, the evaluations of
/// `rlef mini`): an <see cref="EnginePolicy"/> with its batching loop running in the background for as long as this
/// object lives. Requests of concurrent episodes are sampled together in one batched generation call.
/// <para>
/// The engine policy keys its per-episode token history by rollout index, while an evaluation numbers rollouts per
/// problem; every episode (a first turn) therefore gets a fresh history key here. Sampling is seeded by the episode's
/// own (task, rollout, turn), not by that key (handed out in arrival order), so replies do not depend on sandbox
/// timing or batching, and two evaluations with the same seed share their random numbers.
/// </para>
/// </summary>
public sealed class ModelPolicy : IPolicy, IDisposable
{
    readonly EnginePolicy _engine;
    readonly string _label;
    readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly CancellationTokenSource _stop = new();
    readonly Task _serving;
    readonly Dictionary<(string TaskId, int Rollout), int> _keys = [];
    readonly Lock _lock = new();
    int _nextKey;

    /// <param name="label">What <see cref="Describe"/> starts with (e.g. the model directory).</param>
    /// <param name="concurrentEpisodes">Episodes the runner keeps in flight: a batch is sampled as soon as that many
    /// wait, else after a short window for episodes still in the sandbox. Also the largest batch.</param>
    /// <param name="temperatures">Each reply's temperature drawn from this range (the paper's SFT data); null: the
    /// sampling options' temperature.</param>
    public ModelPolicy(LlamaModel model, IChatFormat format, SamplingOptions sampling, int concurrentEpisodes, string label,
        TimeSpan? batchWindow = null, TemperatureRange? temperatures = null)
    {
        if (concurrentEpisodes < 1) throw new ArgumentOutOfRangeException(nameof(concurrentEpisodes), concurrentEpisodes, "must be >= 1");
        sampling.Validate();
        _label = label;
        _engine = new EnginePolicy(model, format, sampling, concurrentEpisodes, batchWindow ?? TimeSpan.FromMilliseconds(20), temperatures: temperatures);
        _serving = Task.Run(() => _engine.ServeAsync(() => concurrentEpisodes, _finished.Task, _stop.Token));
    }

    /// <summary>
    /// Loads a Hugging Face model directory (config.json, *.safetensors, tokenizer.json and a tokenizer_config.json
    /// with a chat template).
    /// </summary>
    /// <param name="label">Names the policy in <see cref="Describe"/> (default: model:DIRECTORY).</param>
    public static ModelPolicy Load(string directory, SamplingOptions sampling, int concurrentEpisodes, string? label = null,
        TemperatureRange? temperatures = null)
    {
        (LlamaModel model, IChatFormat format) = ModelDirectory.Load(directory);
        return new ModelPolicy(model, format, sampling, concurrentEpisodes, $"{label ?? "model:" + directory} seed {sampling.Seed}",
            temperatures: temperatures);
    }

    /// <summary>Seconds inside batched generation, replies and their tokens so far.</summary>
    public double GenerationSeconds => _engine.GenerationSeconds;
    public int Replies => _engine.Replies;
    public long SampledTokens => _engine.SampledTokens;

    public string Describe() => $"{_label} · {_engine.Describe()}";

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
    {
        if (_serving.IsCompleted)
            throw new InvalidOperationException("the model policy no longer samples (disposed, or its batching loop failed)", _serving.Exception);
        int key;
        lock (_lock)
        {
            // A first turn starts a new episode (a retried rollout too); later turns continue the episode's key.
            if (context.TurnIndex == 0 || !_keys.TryGetValue((context.TaskId, context.RolloutIndex), out key))
                _keys[(context.TaskId, context.RolloutIndex)] = key = _nextKey++;
        }
        return _engine.ReplyAsync(conversation, context, key, cancellationToken);
    }

    public void Dispose()
    {
        _finished.TrySetResult();
        try { _serving.Wait(TimeSpan.FromSeconds(30)); }
        catch (AggregateException) { } // a failed loop already failed its requests
        _stop.Cancel();
        _stop.Dispose();
    }
}
