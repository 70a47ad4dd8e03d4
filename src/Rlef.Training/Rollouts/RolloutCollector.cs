using System.Diagnostics;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;
using Rlef.Training.Config;

namespace Rlef.Training.Rollouts;

/// <summary>What one collection produced: the trainer's episodes, the environment's rollouts, and where the time went.</summary>
/// <param name="GenerationSeconds">Inside batched sampling calls.</param>
/// <param name="SandboxSeconds">Wall time of the collection not covered by sampling: sandbox runs the generator had to wait for (sandbox time overlapped with sampling is not counted).</param>
/// <param name="ScoringSeconds">Reference log-probs and values after the episodes finished.</param>
public sealed record CollectedRollouts(
    IReadOnlyList<TrainingEpisode> Episodes,
    IReadOnlyList<Rollout> Rollouts,
    double GenerationSeconds,
    double SandboxSeconds,
    double ScoringSeconds,
    long SampledTokens,
    int GenerationCalls);

/// <summary>
/// Runs many episodes at once with the in-process policy (the environment's <see cref="Episode"/> does prompts, code
/// extraction, feedback, termination and the verdict) and turns them into <see cref="TrainingEpisode"/>s: exact token
/// ids and behaviour log-probs from sampling, reference log-probs from the frozen initial policy, and V(c_t) from the
/// value network at the last prompt token of each turn (or before every reply token for the token-level ablation).
/// </summary>
public sealed class RolloutCollector(ICodeExecutor executor, IChatFormat format, RlefConfig config)
{
    // One generator per policy model, kept across collections and validations: its KV cache is the largest buffer of
    // generation, and collections run one at a time.
    readonly System.Runtime.CompilerServices.ConditionalWeakTable<LlamaModel, Generator> _generators = new();

    /// <summary>The environment's settings under the run's ablations (docs/protocol.md §3).</summary>
    public EpisodeOptions EpisodeOptions => new()
    {
        TurnLimit = config.EffectiveTurnLimit,
        Feedback = config.Ablation.NoExecutionFeedback ? FeedbackMode.None : FeedbackMode.Real,
        InvalidCodeReward = config.EffectiveInvalidCodeReward,
        SyntaxErrorIsInvalidCode = config.Reward.SyntaxErrorIsInvalidCode,
        SuccessReward = config.Reward.Success,
        FailureReward = config.Reward.Failure,
    };

    /// <summary>Training rollouts: temperature and top-p of the rollout section, with scoring for PPO.</summary>
    public Task<CollectedRollouts> CollectAsync(LlamaModel policy, LlamaModel reference, LlamaModel valueModel,
        IReadOnlyList<Problem> problems, int seed, CancellationToken cancellationToken = default)
    {
        var sampling = new SamplingOptions
        {
            Temperature = (float)config.Rollout.Temperature,
            TopP = (float)config.Rollout.TopP,
            MaxTokens = config.Rollout.MaxReplyTokens,
            Seed = seed,
        };
        return RunAsync(policy, sampling, problems, (reference, valueModel), cancellationToken);
    }

    /// <summary>
    /// The validation score of <paramref name="policy"/> (docs/protocol.md §3.9, §4, 1@3): the solve rate of
    /// data.valid_rollouts rollouts per problem at the validation temperature and top-p, the mean over all of them. All
    /// or nothing: an episode that fails (a sandbox infrastructure error) fails the validation, so no score over part
    /// of the split is ever recorded as the policy's. RLEF's and SFT's best-on-valid selection both use it.
    /// </summary>
    public async Task<double> ValidationSolveRateAsync(LlamaModel policy, IReadOnlyList<Problem> valid, CancellationToken cancellationToken = default)
    {
        if (valid.Count == 0) throw new InvalidOperationException("no validation problems (data.valid)");
        var sampling = new SamplingOptions
        {
            Temperature = (float)config.Data.ValidTemperature,
            TopP = (float)config.Data.ValidTopP,
            Seed = Runs.RandomStreams.ValidationSampling(config.Schedule.Seed),
        };
        // Each copy of a problem is its own rollout index, so its sampling seed differs.
        var problems = valid.SelectMany(p => Enumerable.Repeat(p, config.Data.ValidRollouts)).ToList();
        var rollouts = await SampleAsync(policy, sampling, problems, cancellationToken);
        if (rollouts.Count != problems.Count)
            throw new InvalidOperationException($"validation: {rollouts.Count} of {problems.Count} rollouts finished; no score recorded");
        return rollouts.Count(r => r.PassedAll) / (double)problems.Count;
    }

    /// <summary>Rollouts without scoring (validation): only the environment's verdicts are used.</summary>
    public async Task<IReadOnlyList<Rollout>> SampleAsync(LlamaModel policy, SamplingOptions sampling, IReadOnlyList<Problem> problems,
        CancellationToken cancellationToken = default) =>
        (await RunAsync(policy, sampling with { MaxTokens = config.Rollout.MaxReplyTokens }, problems, null, cancellationToken)).Rollouts;

    async Task<CollectedRollouts> RunAsync(LlamaModel policyModel, SamplingOptions sampling, IReadOnlyList<Problem> problems,
        (LlamaModel Reference, LlamaModel Value)? scoring, CancellationToken cancellationToken)
    {
        if (problems.Count == 0) throw new ArgumentException("nothing to roll out", nameof(problems));
        if (Interlocked.Exchange(ref _running, 1) == 1)
            throw new InvalidOperationException("a RolloutCollector runs one collection at a time (its generators are not thread-safe)");
        try { return await RunOnceAsync(policyModel, sampling, problems, scoring, cancellationToken); }
        finally { Volatile.Write(ref _running, 0); }
    }

    int _running;

    async Task<CollectedRollouts> RunOnceAsync(LlamaModel policyModel, SamplingOptions sampling, IReadOnlyList<Problem> problems,
        (LlamaModel Reference, LlamaModel Value)? scoring, CancellationToken cancellationToken)
    {
        var wall = Stopwatch.StartNew();
        // Lock step: the batches, hence the sampled tokens to the last bit, do not depend on the sandbox's timing, so a
        // run with the same seed is the same run (the collection knows exactly how many episodes are live).
        var policy = new EnginePolicy(policyModel, format, sampling, config.Engine.GenerationBatch, TimeSpan.FromMilliseconds(config.Engine.BatchWindowMs),
            lockStep: true, generator: _generators.GetValue(policyModel, m => new Generator(m)));
        var episode = new Episode(executor, policy, EpisodeOptions);
        int live = problems.Count;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var tasks = problems.Select(async (problem, i) =>
        {
            try
            {
                // Episodes start on the thread pool so their sandbox runs proceed while the generator samples.
                return await Task.Run(() => episode.RunAsync(problem, i, cancel.Token), cancel.Token);
            }
            catch
            {
                await cancel.CancelAsync(); // one failed episode fails the collection; stop the others
                throw;
            }
            finally
            {
                Interlocked.Decrement(ref live);
            }
        }).ToArray();
        Task all = Task.WhenAll(tasks);
        Task serving = Task.Run(() => policy.ServeAsync(() => Volatile.Read(ref live), all, cancel.Token), cancel.Token);
        await Task.WhenAny(all, serving);
        if (serving.IsFaulted) await serving;
        Rollout[] rollouts = await Task.WhenAll(tasks);
        await serving;
        double collectionSeconds = wall.Elapsed.TotalSeconds;

        if (scoring is not { } models)
            return new CollectedRollouts([], rollouts, policy.GenerationSeconds, collectionSeconds - policy.GenerationSeconds, 0,
                policy.SampledTokens, policy.GenerationCalls);

        var clock = Stopwatch.StartNew();
        var turns = new IReadOnlyList<SampledTurn>[problems.Count];
        for (int i = 0; i < problems.Count; i++) turns[i] = policy.TurnsOf(i);
        TrainingEpisode[] episodes = BuildTrainingEpisodes(problems, rollouts, turns, models.Reference, models.Value);
        return new CollectedRollouts(episodes, rollouts, policy.GenerationSeconds, collectionSeconds - policy.GenerationSeconds,
            clock.Elapsed.TotalSeconds, policy.SampledTokens, policy.GenerationCalls);
    }

    /// <summary>
    /// The trainer's episodes from finished rollouts and the exact turns sampled for them: reference log-probs from
    /// the frozen initial policy and values from the value network, both scored here (teacher-forced, batched).
    /// </summary>
    public TrainingEpisode[] BuildTrainingEpisodes(IReadOnlyList<Problem> problems, IReadOnlyList<Rollout> rollouts,
        IReadOnlyList<IReadOnlyList<SampledTurn>> turns, LlamaModel reference, LlamaModel valueModel)
    {
        var sequences = new int[problems.Count][];
        for (int i = 0; i < problems.Count; i++)
        {
            if (turns[i].Count != rollouts[i].Turns.Count)
                throw new InvalidOperationException($"{problems[i].Id} rollout {i}: the episode has {rollouts[i].Turns.Count} turns but {turns[i].Count} were sampled");
            sequences[i] = Sequence(turns[i]);
        }
        var (referenceLogProbs, values) = Scorer.LogProbsAndValues(reference, valueModel, sequences, config.Engine.ScoringBatchTokens);
        return BuildTrainingEpisodes(problems, rollouts, turns, referenceLogProbs, values);
    }

    /// <summary>
    /// The same from scores computed elsewhere (e.g. by a training service): <paramref name="referenceLogProbs"/>[i][p]
    /// = log ρ(sequence_i[p+1] | sequence_i[..p]) and <paramref name="values"/>[i][p] = V(sequence_i[..p]).
    /// </summary>
    public TrainingEpisode[] BuildTrainingEpisodes(IReadOnlyList<Problem> problems, IReadOnlyList<Rollout> rollouts,
        IReadOnlyList<IReadOnlyList<SampledTurn>> turns, float[][] referenceLogProbs, float[][] values)
    {
        bool tokenValues = config.Ablation.ValueFunction == ValueLevel.Token;
        var episodes = new TrainingEpisode[problems.Count];
        for (int i = 0; i < problems.Count; i++)
        {
            var trainingTurns = new List<TrainingTurn>(turns[i].Count);
            int at = 0;
            for (int t = 0; t < turns[i].Count; t++)
            {
                SampledTurn turn = turns[i][t];
                at += turn.PromptTokens.Length;
                int reply = turn.ReplyTokens.Length;
                // Reply token k sits at position at + k and is predicted at at + k − 1 (scores are shifted by one).
                trainingTurns.Add(new TrainingTurn
                {
                    PromptTokens = turn.PromptTokens,
                    ReplyTokens = turn.ReplyTokens,
                    BehaviourLogProbs = turn.LogProbs,
                    ReferenceLogProbs = referenceLogProbs[i].AsSpan(at - 1, reply).ToArray(),
                    Value = values[i][at - 1],
                    TokenValues = tokenValues ? values[i].AsSpan(at - 1, reply).ToArray() : null,
                    InvalidCode = rollouts[i].Turns[t].PublicOutcome == TurnOutcome.InvalidCode,
                });
                at += reply;
            }
            episodes[i] = new TrainingEpisode(problems[i].Id, trainingTurns, rollouts[i].PassedAll);
        }
        return episodes;
    }

    /// <summary>An episode's whole token sequence: each turn's prompt tokens, then its reply tokens.</summary>
    public static int[] Sequence(IReadOnlyList<SampledTurn> turns) => turns.SelectMany(t => t.PromptTokens.Concat(t.ReplyTokens)).ToArray();
}
