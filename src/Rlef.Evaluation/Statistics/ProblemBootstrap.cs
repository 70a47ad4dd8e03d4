namespace Rlef.Evaluation.Statistics;

/// <summary>
/// Percentile bootstrap over problems (docs/protocol.md §4): each resample draws as many problems as there are, with
/// replacement, and recomputes the statistic; the interval is the 2.5th and 97.5th percentile of the resampled values.
/// Every statistic is a ratio of per-problem sums, Σ numerator / Σ denominator: a mean over problems (denominator 1),
/// a share of rollouts (numerator = count, denominator = rollouts), a recovery rate or a mean code change.
/// All statistics of one report share the same resampled problem sets, drawn once from the seed, so the intervals
/// are reproducible and consistent with each other.
/// </summary>
public sealed class ProblemBootstrap
{
    public const double LowerQuantile = 0.025, UpperQuantile = 0.975;

    private readonly int[][] _resamples;

    public ProblemBootstrap(int problemCount, int resamples, int seed)
    {
        if (problemCount < 1)
            throw new ArgumentOutOfRangeException(nameof(problemCount), "the bootstrap needs at least one problem");
        if (resamples < 1)
            throw new ArgumentOutOfRangeException(nameof(resamples), "the bootstrap needs at least one resample");
        ProblemCount = problemCount;
        // new Random(seed) is .NET's documented-stable seeded generator: the same seed gives the same draws.
        var random = new Random(seed);
        _resamples = new int[resamples][];
        for (int b = 0; b < resamples; b++)
        {
            var draw = new int[problemCount];
            for (int i = 0; i < problemCount; i++)
                draw[i] = random.Next(problemCount);
            _resamples[b] = draw;
        }
    }

    public int ProblemCount { get; }
    public int Resamples => _resamples.Length;

    /// <summary>The mean of one value per problem.</summary>
    public Estimate Mean(IReadOnlyList<double> perProblem) => Ratio(perProblem, null);

    /// <summary>
    /// Σ numerator / Σ denominator over problems (denominator 1 each when null). Resamples whose denominator sums to
    /// zero have no value and are left out of the percentiles; with none left the interval is NaN.
    /// </summary>
    public Estimate Ratio(IReadOnlyList<double> numerators, IReadOnlyList<double>? denominators)
    {
        if (numerators.Count != ProblemCount || (denominators != null && denominators.Count != ProblemCount))
            throw new ArgumentException($"expected one value per problem ({ProblemCount})");
        double Denominator(int i) => denominators == null ? 1.0 : denominators[i];

        double numeratorSum = 0, denominatorSum = 0;
        for (int i = 0; i < ProblemCount; i++)
        {
            numeratorSum += numerators[i];
            denominatorSum += Denominator(i);
        }
        double value = denominatorSum > 0 ? numeratorSum / denominatorSum : double.NaN;

        var resampled = new List<double>(_resamples.Length);
        foreach (int[] draw in _resamples)
        {
            double n = 0, d = 0;
            foreach (int i in draw)
            {
                n += numerators[i];
                d += Denominator(i);
            }
            if (d > 0)
                resampled.Add(n / d);
        }
        if (resampled.Count == 0)
            return new Estimate(value, double.NaN, double.NaN);
        resampled.Sort();
        return new Estimate(value, Percentile(resampled, LowerQuantile), Percentile(resampled, UpperQuantile));
    }

    /// <summary>Linear interpolation between order statistics at position q·(m−1) (numpy's default "linear").</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double q)
    {
        double position = q * (sorted.Count - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }
}
