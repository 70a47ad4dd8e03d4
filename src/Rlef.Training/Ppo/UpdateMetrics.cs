using Rlef.Training.Runs;

namespace Rlef.Training.Ppo;

/// <summary>
/// The names and order of the metrics logged per PPO update, so the JSONL, TensorBoard and the
/// live display agree. TensorBoard groups tags by the part before '/'.
/// </summary>
public static class UpdateMetrics
{
    public static IReadOnlyList<KeyValuePair<string, double>> Build(
        PpoLossResult loss, RolloutStats rollout, double learningRate, double tokensPerSecond,
        IReadOnlyDictionary<Phase, double> secondsPerPhase)
    {
        var metrics = new List<KeyValuePair<string, double>>
        {
            new("loss/policy", loss.PolicyLoss),
            new("loss/value", loss.ValueLoss),
            new("kl/old", loss.ApproxKlOld),
            new("kl/reference", loss.KlReference),
            new("policy/clip_fraction", loss.ClipFraction),
            new("policy/truncated_fraction", loss.TruncatedFraction),
            new("policy/entropy", loss.Entropy),
            new("value/clip_fraction", loss.ValueClipFraction),
            new("value/explained_variance", rollout.ExplainedVariance),
            new("rollout/mean_return", rollout.MeanReturn),
            new("rollout/solve_rate", rollout.SolveRate),
            new("rollout/mean_turns", rollout.MeanTurns),
            new("rollout/invalid_code_rate", rollout.InvalidCodeRate),
            new("rollout/turn_kl", rollout.MeanTurnKl),
            new("advantage/raw_mean", rollout.AdvantageMean),
            new("advantage/raw_std", rollout.AdvantageStd),
            new("optim/learning_rate", learningRate),
            new("throughput/tokens_per_s", tokensPerSecond),
        };
        foreach (var (phase, seconds) in secondsPerPhase.OrderBy(p => p.Key))
            metrics.Add(new($"time/{phase.ToString().ToLowerInvariant()}_s", seconds));
        return metrics;
    }
}
