using System.Globalization;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation;

/// <summary>One side of a paired comparison: an evaluation's rollouts read at a turn limit (1 = single-turn).</summary>
public sealed record ComparedSetting(string Label, IReadOnlyList<RolloutSummary> Rollouts, int TurnLimit);

/// <summary>
/// first − second for one metric on the same problems, with the 95% interval of the paired bootstrap
/// (<see cref="PairedBootstrap"/>); the difference is significant at the 5% level when the interval excludes 0.
/// </summary>
public sealed record PairedDifference(string Metric, string First, string Second, int Problems, Estimate FirstValue,
    Estimate SecondValue, Estimate Difference, BootstrapMethod Method, string? Note)
{
    /// <summary>The 95% interval lies entirely above or entirely below 0.</summary>
    public bool ExcludesZero => Difference.CiLow > 0 || Difference.CiHigh < 0;

    /// <summary>"+20.3 points [12.1, 28.0], excludes 0".</summary>
    public string ToText() => !Difference.IsDefined ? "n/a" : string.Create(CultureInfo.InvariantCulture,
        $"{100 * Difference.Value:+0.0;-0.0;0.0} points [{100 * Difference.CiLow:+0.0;-0.0;0.0}, {100 * Difference.CiHigh:+0.0;-0.0;0.0}], {(ExcludesZero ? "excludes 0" : "includes 0")}");
}

/// <summary>
/// Paired comparisons of two settings on the same problems (docs/protocol.md §4): start vs trained policy, multi- vs
/// single-turn, true vs random feedback. Both sides' metrics are the report's (<see cref="EvaluationReport"/>), and one
/// set of resamples serves both, so what the two settings share (the problem, the rollout's seed) cancels out of the
/// difference instead of widening it.
/// </summary>
public static class PairedComparison
{
    /// <param name="metric">"solve_rate" (solve rate at the side's turn limit), "pass@K" or "N@K" (e.g. "1@3").</param>
    /// <param name="options">The turn limit of the episodes, the bootstrap's method, resamples and seed.</param>
    public static PairedDifference Compute(string metric, ComparedSetting first, ComparedSetting second, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IReadOnlyList<IReadOnlyList<RolloutSummary>> a = EvaluationReport.GroupByProblem(first.Rollouts, options.TurnLimit);
        IReadOnlyList<IReadOnlyList<RolloutSummary>> b = EvaluationReport.GroupByProblem(second.Rollouts, options.TurnLimit);
        CheckSameProblems(first.Label, a, second.Label, b);

        (Statistic? sa, string? skipA) = MetricStatistics.ByName(a, metric, first.TurnLimit);
        (Statistic? sb, string? skipB) = MetricStatistics.ByName(b, metric, second.TurnLimit);
        if (sa is null || sb is null)
            throw new ArgumentException($"{metric} cannot be compared: {(sa is null ? $"{first.Label} {skipA}" : $"{second.Label} {skipB}")}");

        int[] shapeA = a.Select(p => p.Count).ToArray(), shapeB = b.Select(p => p.Count).ToArray();
        (BootstrapMethod method, string? note) = Bootstrap.Resolve(options.Bootstrap, shapeA, shapeB);
        // A redraw of N rollouts with replacement holds about 63% distinct ones; an estimator that draws most of a
        // problem's rollouts (1@3 single-turn with N = 3 draws all three) is pulled down on redraws, which biases the
        // interval of that side and so of the difference.
        int drawn = Math.Max(MetricStatistics.RolloutsDrawn(metric, first.TurnLimit), MetricStatistics.RolloutsDrawn(metric, second.TurnLimit));
        int fewest = Math.Min(shapeA.Min(), shapeB.Min());
        if (method == BootstrapMethod.Rollouts && 2 * drawn > fewest)
            note = FormattableString.Invariant(
                $"the bootstrap over rollouts is biased here: {metric} draws {drawn} of as few as {fewest} rollouts of a problem, and redraws repeat rollouts; prefer the bootstrap over problems or sample more rollouts");
        var paired = new PairedBootstrap(method, shapeA, shapeB, options.BootstrapResamples, options.Seed);
        Estimate difference = paired.Difference(sa, sb);
        return new PairedDifference(metric, first.Label, second.Label, a.Count,
            new Bootstrap(method, shapeA, options.BootstrapResamples, options.Seed).Estimate(sa),
            new Bootstrap(method, shapeB, options.BootstrapResamples, options.Seed).Estimate(sb),
            difference, method, note);
    }

    private static void CheckSameProblems(string firstLabel, IReadOnlyList<IReadOnlyList<RolloutSummary>> a,
        string secondLabel, IReadOnlyList<IReadOnlyList<RolloutSummary>> b)
    {
        var idsA = a.Select(p => p[0].ProblemId).ToList();
        var idsB = b.Select(p => p[0].ProblemId).ToList();
        string? onlyA = idsA.Except(idsB, StringComparer.Ordinal).FirstOrDefault();
        string? onlyB = idsB.Except(idsA, StringComparer.Ordinal).FirstOrDefault();
        if (onlyA is not null || onlyB is not null)
            throw new ArgumentException(onlyA is not null
                ? $"a paired comparison needs the same problems: {onlyA} is in {firstLabel} ({idsA.Count} problems) but not in {secondLabel} ({idsB.Count})"
                : $"a paired comparison needs the same problems: {onlyB} is in {secondLabel} ({idsB.Count} problems) but not in {firstLabel} ({idsA.Count})");
    }
}
