namespace Rlef.Evaluation.Statistics;

/// <summary>
/// A figure of one evaluation that a bootstrap can recompute on any <see cref="Draw"/>. Its input is a few numbers
/// per rollout (features such as "correct at turn limit 3" or "passes the public tests"), so that redrawing rollouts
/// or problems only reweights sums and never reruns anything expensive (chrF, the sandbox).
/// </summary>
public abstract class Statistic
{
    private protected Statistic(IReadOnlyList<int> rolloutsPerProblem) => RolloutsPerProblem = rolloutsPerProblem;

    /// <summary>The evaluation's shape: the number of rollouts of each problem, problems in a fixed order.</summary>
    public IReadOnlyList<int> RolloutsPerProblem { get; }

    /// <summary>The figure on the observed data.</summary>
    public double Value => Evaluate(Draw.Identity(RolloutsPerProblem));

    /// <summary>The figure on a resample; NaN where undefined (e.g. a rate over no rollouts).</summary>
    public abstract double Evaluate(Draw draw);

    /// <summary>
    /// The mean over problems of <paramref name="perProblem"/>(N, sums), where N is the number of rollouts drawn for
    /// the problem (always its own count: a resample draws N of N) and sums[f] the sum of feature f over them. Metrics
    /// that are a function of per-problem counts (solve rate, pass@k, n@k) take this form.
    /// </summary>
    /// <param name="features">[problem][rollout][feature].</param>
    public static Statistic MeanOverProblems(IReadOnlyList<IReadOnlyList<double[]>> features, Func<int, double[], double> perProblem) =>
        new ProblemMean(features, perProblem);

    /// <summary>
    /// Σ numerator / Σ denominator over every drawn rollout of every drawn problem: a share of rollouts, a recovery rate,
    /// a mean code change per transition. NaN when the denominator sums to zero.
    /// </summary>
    /// <param name="numerators">[problem][rollout].</param>
    /// <param name="denominators">[problem][rollout].</param>
    public static Statistic PooledRatio(IReadOnlyList<IReadOnlyList<double>> numerators, IReadOnlyList<IReadOnlyList<double>> denominators) =>
        new Pooled(numerators, denominators);

    private static int[] Shape<T>(IReadOnlyList<IReadOnlyList<T>> perProblem)
    {
        ArgumentNullException.ThrowIfNull(perProblem);
        if (perProblem.Count == 0)
            throw new ArgumentException("a statistic needs at least one problem");
        return perProblem.Select(p => p.Count).ToArray();
    }

    private sealed class ProblemMean(IReadOnlyList<IReadOnlyList<double[]>> features, Func<int, double[], double> perProblem)
        : Statistic(Shape(features))
    {
        public override double Evaluate(Draw draw)
        {
            draw.CheckShape(RolloutsPerProblem);
            double total = 0, weight = 0;
            for (int p = 0; p < features.Count; p++)
            {
                int problemCount = draw.ProblemCounts[p];
                if (problemCount == 0)
                    continue;
                IReadOnlyList<double[]> rollouts = features[p];
                IReadOnlyList<int> counts = draw.RolloutCounts[p];
                double[] sums = new double[rollouts.Count == 0 ? 0 : rollouts[0].Length];
                int drawn = 0;
                for (int r = 0; r < rollouts.Count; r++)
                {
                    int c = counts[r];
                    if (c == 0)
                        continue;
                    drawn += c;
                    double[] f = rollouts[r];
                    for (int i = 0; i < sums.Length; i++)
                        sums[i] += c * f[i];
                }
                total += problemCount * perProblem(drawn, sums);
                weight += problemCount;
            }
            return weight > 0 ? total / weight : double.NaN;
        }
    }

    private sealed class Pooled(IReadOnlyList<IReadOnlyList<double>> numerators, IReadOnlyList<IReadOnlyList<double>> denominators)
        : Statistic(Shape(numerators))
    {
        public override double Evaluate(Draw draw)
        {
            draw.CheckShape(RolloutsPerProblem);
            if (denominators.Count != numerators.Count)
                throw new ArgumentException($"{numerators.Count} problems of numerators but {denominators.Count} of denominators");
            double n = 0, d = 0;
            for (int p = 0; p < numerators.Count; p++)
            {
                int problemCount = draw.ProblemCounts[p];
                if (problemCount == 0)
                    continue;
                IReadOnlyList<int> counts = draw.RolloutCounts[p];
                for (int r = 0; r < counts.Count; r++)
                {
                    int c = problemCount * counts[r];
                    n += c * numerators[p][r];
                    d += c * denominators[p][r];
                }
            }
            return d > 0 ? n / d : double.NaN;
        }
    }
}
