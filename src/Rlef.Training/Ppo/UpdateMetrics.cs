using Rlef.Training.Runs;

namespace Rlef.Training.Ppo;

/// <summary>
/// The metrics logged per PPO update, in order (their names: <see cref="MetricNames"/>).
/// </summary>
public static class UpdateMetrics
{
    public static IReadOnlyList<KeyValuePair<string, double>> Build(
        PpoLossResult loss, RolloutStats rollout, double learningRate, double tokensPerSecond,
        IReadOnlyDictionary<Phase, double> secondsPerPhase)
    {
        var metrics = new List<KeyValuePair<string, double>>
        {
            new(MetricNames.PolicyLoss, loss.PolicyLoss),
            new(MetricNames.ValueLoss, loss.ValueLoss),
            new(MetricNames.KlOld, loss.ApproxKlOld),
            new(MetricNames.KlReference, loss.KlReference),
            new(MetricNames.ClipFraction, loss.ClipFraction),
            new(MetricNames.TruncatedFraction, loss.TruncatedFraction),
            new(MetricNames.Entropy, loss.Entropy),
            new(MetricNames.ValueClipFraction, loss.ValueClipFraction),
            new(MetricNames.ExplainedVariance, rollout.ExplainedVariance),
            new(MetricNames.MeanReturn, rollout.MeanReturn),
            new(MetricNames.SolveRate, rollout.SolveRate),
            new(MetricNames.MeanTurns, rollout.MeanTurns),
            new(MetricNames.InvalidCodeRate, rollout.InvalidCodeRate),
            new(MetricNames.TurnKl, rollout.MeanTurnKl),
            new(MetricNames.AdvantageRawMean, rollout.AdvantageMean),
            new(MetricNames.AdvantageRawStd, rollout.AdvantageStd),
            new(MetricNames.LearningRate, learningRate),
            new(MetricNames.TokensPerSecond, tokensPerSecond),
        };
        foreach (var (phase, seconds) in secondsPerPhase.OrderBy(p => p.Key))
            metrics.Add(new(MetricNames.Seconds(phase), seconds));
        return metrics;
    }
}
