using Rlef.Training.Runs;

namespace Rlef.Training.Actors;

/// <summary>
/// The policy lag of one collection's episodes (docs/inference-servers.md §2): lag = the learner's version now − the
/// version that sampled the episode. Episodes within max_policy_lag are kept; older ones are dropped and counted,
/// never trained on. The histogram has one bucket per allowed lag (0 … k) and one for the dropped ones ("over"),
/// each the fraction of the collection's episodes.
/// </summary>
public sealed record PolicyLags(int[] Kept, int Dropped, double Mean, IReadOnlyList<(string Name, double Fraction)> Histogram)
{
    /// <param name="sampledWith">The policy version that sampled each episode, in collection order.</param>
    public static PolicyLags Of(IReadOnlyList<long> sampledWith, long learnerVersion, int maxPolicyLag)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPolicyLag);
        long[] lags = sampledWith.Select(v => learnerVersion - v).ToArray();
        // A version newer than the learner's cannot have sampled anything: a pipeline bug, not an old episode.
        if (lags.Any(l => l < 0))
            throw new InvalidOperationException($"an episode was sampled by policy version {sampledWith.Max()}, newer than the learner's {learnerVersion}");
        int[] kept = Enumerable.Range(0, lags.Length).Where(i => lags[i] <= maxPolicyLag).ToArray();
        double n = Math.Max(1, lags.Length);
        var histogram = new List<(string, double)>(maxPolicyLag + 2);
        for (int lag = 0; lag <= maxPolicyLag; lag++) histogram.Add((MetricNames.PolicyLag(lag), lags.Count(l => l == lag) / n));
        histogram.Add((MetricNames.PolicyLagOver, (lags.Length - kept.Length) / n));
        return new PolicyLags(kept, lags.Length - kept.Length, lags.Length == 0 ? 0 : lags.Average(), histogram);
    }
}
