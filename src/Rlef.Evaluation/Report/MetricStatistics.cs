using Rlef.Evaluation.Estimators;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation;

/// <summary>
/// The metrics of docs/protocol.md §4 as bootstrap <see cref="Statistic"/>s over a set of problems (each a list of
/// rollouts in rollout-index order): every metric is a function of per-problem counts of per-rollout features, so
/// one definition serves the report's intervals and the paired comparisons.
/// </summary>
internal static class MetricStatistics
{
    /// <summary>Share of all rollouts whose final submission passes all tests.</summary>
    public static Statistic SolveRate(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems) => Statistic.PooledRatio(
        problems.Select(p => (IReadOnlyList<double>)p.Select(r => r.FinalPassesAll ? 1.0 : 0.0).ToArray()).ToList(),
        problems.Select(p => (IReadOnlyList<double>)p.Select(_ => 1.0).ToArray()).ToList());

    /// <summary>Per problem the share of rollouts correct when cut at <paramref name="limit"/> turns, averaged over problems.</summary>
    public static Statistic SolveRateAt(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems, int limit) =>
        Statistic.MeanOverProblems(Features(problems, r => EvaluationReport.IsCorrect(r, limit) ? 1 : 0),
            (n, sums) => sums[0] / n);

    /// <summary>Chen et al.'s pass@k at <paramref name="limit"/>, rollouts as samples.</summary>
    public static Statistic PassAt(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems, int k, int limit) =>
        Statistic.MeanOverProblems(Features(problems, r => EvaluationReport.IsCorrect(r, limit) ? 1 : 0),
            (n, sums) => PassAtK.Estimate(n, (int)sums[0], k));

    /// <summary>AlphaCode's n@k at <paramref name="limit"/>: ⌊k / limit⌋ rollouts drawn, public-passing ones submitted.</summary>
    public static Statistic NAt(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems, NAtK metric, int limit)
    {
        int drawn = metric.RolloutsDrawn(limit);
        return Statistic.MeanOverProblems(Features(problems,
                r => EvaluationReport.PassesPublicAt(r, limit) ? 1 : 0,
                r => EvaluationReport.PassesPublicAt(r, limit) && EvaluationReport.IsCorrect(r, limit) ? 1 : 0),
            (n, sums) => NAtKEstimator.Estimate(n, (int)sums[0], (int)sums[1], metric.N, drawn));
    }

    /// <summary>
    /// The statistic named <paramref name="name"/> ("solve_rate", "pass@K", "N@K") at <paramref name="limit"/>, or the
    /// reason it cannot be computed on these problems (too few rollouts for the budget).
    /// </summary>
    public static (Statistic? Statistic, string? Skipped) ByName(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems, string name, int limit)
    {
        int minRollouts = problems.Min(p => p.Count);
        if (name == "solve_rate")
            return (SolveRateAt(problems, limit), null);
        if (name.StartsWith("pass@", StringComparison.Ordinal))
        {
            if (!int.TryParse(name.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) || k < 1)
                throw new FormatException($"'{name}' is not a metric: use solve_rate, pass@K or N@K (e.g. 1@3)");
            return k > minRollouts
                ? (null, $"needs at least {k} rollouts per problem; the smallest problem has {minRollouts}")
                : (PassAt(problems, k, limit), null);
        }
        NAtK metric = NAtK.Parse(name);
        int drawn = metric.RolloutsDrawn(limit);
        if (drawn < 1)
            return (null, $"a budget of {metric.K} samples buys no rollout of {limit} turns");
        if (drawn > minRollouts)
            return (null, $"draws {drawn} rollouts of {limit} turn(s) per problem; the smallest problem has {minRollouts}");
        return (NAt(problems, metric, limit), null);
    }

    /// <summary>Rollouts of a problem the metric draws at once (1 for the solve rate, k for pass@k, ⌊k / limit⌋ for n@k).</summary>
    public static int RolloutsDrawn(string name, int limit) =>
        name == "solve_rate" ? 1
        : name.StartsWith("pass@", StringComparison.Ordinal) ? int.Parse(name.AsSpan(5), System.Globalization.CultureInfo.InvariantCulture)
        : NAtK.Parse(name).RolloutsDrawn(limit);

    private static IReadOnlyList<IReadOnlyList<double[]>> Features(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems,
        params Func<RolloutSummary, double>[] features) =>
        problems.Select(p => (IReadOnlyList<double[]>)p.Select(r => features.Select(f => f(r)).ToArray()).ToArray()).ToList();
}
