namespace Rlef.Training.Runs;

/// <summary>
/// Every metric a training run logs, by name: one list for metrics.jsonl, TensorBoard (which groups tags by the part
/// before '/'), the live display and the readers of metrics.jsonl (the miniature's report).
/// </summary>
public static class MetricNames
{
    // Per PPO update (docs/protocol.md §3), in the order UpdateMetrics writes them.
    public const string PolicyLoss = "loss/policy";
    public const string ValueLoss = "loss/value";
    public const string KlOld = "kl/old";
    public const string KlReference = "kl/reference";
    public const string ClipFraction = "policy/clip_fraction";
    public const string TruncatedFraction = "policy/truncated_fraction";
    public const string Entropy = "policy/entropy";
    public const string ValueClipFraction = "value/clip_fraction";
    public const string ExplainedVariance = "value/explained_variance";
    public const string MeanReturn = "rollout/mean_return";
    public const string SolveRate = "rollout/solve_rate";
    public const string MeanTurns = "rollout/mean_turns";
    public const string InvalidCodeRate = "rollout/invalid_code_rate";
    public const string TurnKl = "rollout/turn_kl";
    public const string AdvantageRawMean = "advantage/raw_mean";
    public const string AdvantageRawStd = "advantage/raw_std";
    public const string LearningRate = "optim/learning_rate";
    public const string TokensPerSecond = "throughput/tokens_per_s";
    /// <summary>Seconds of a phase: the iteration's for collection phases, the update's for <see cref="Phase.Update"/>.</summary>
    public static string Seconds(Phase phase) => $"time/{phase.ToString().ToLowerInvariant()}_s";
    public const string ScoringSeconds = "time/scoring_s";
    public const string SampledTokensPerSecond = "throughput/sampled_tokens_per_s";
    public const string PolicyGradNorm = "optim/policy_grad_norm";
    public const string ValueGradNorm = "optim/value_grad_norm";

    // After each validation: the score that picks the best checkpoint, and the best so far.
    public const string ValidSolveRate = "valid/solve_rate";
    public const string ValidBest = "valid/best";

    // Per SFT update.
    public const string SftLoss = "loss/sft";
    public const string GradNorm = "optim/grad_norm";

    /// <summary>What the live display shows, in this order, when the last update logged it.</summary>
    public static IReadOnlyList<string> Shown { get; } =
    [
        SolveRate, MeanReturn, PolicyLoss, ValueLoss, KlOld, KlReference, ClipFraction, Entropy, LearningRate, TokensPerSecond,
    ];
}
