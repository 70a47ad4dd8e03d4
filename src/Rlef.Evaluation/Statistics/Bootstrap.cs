namespace Rlef.Evaluation.Statistics;

/// <summary>
/// Percentile bootstrap (docs/protocol.md §4): the statistic is recomputed on each resample and the 95% interval is the
/// 2.5th and 97.5th percentile of the resampled values. What a resample redraws is the <see cref="BootstrapMethod"/>:
/// each problem's N rollouts, N with replacement (the paper's, App. B.1), or the problems. All statistics of one
/// report share the same resamples, drawn once from the seed, so the intervals are reproducible and consistent with
/// each other. Resamples on which a statistic is undefined (NaN) are left out of its percentiles.
/// </summary>
public sealed class Bootstrap
{
    public const double LowerQuantile = 0.025, UpperQuantile = 0.975;

    private readonly IReadOnlyList<Draw> _draws;

    /// <param name="rolloutsPerProblem">The evaluation's shape: rollouts of each problem, problems in a fixed order.</param>
    public Bootstrap(BootstrapMethod method, IReadOnlyList<int> rolloutsPerProblem, int resamples, int seed)
        : this(method, rolloutsPerProblem, Sampler.Draws(method, [rolloutsPerProblem], resamples, seed).Select(d => d[0]).ToList())
    {
    }

    /// <summary>A bootstrap over given draws (tests check the statistics against hand-computed resamples).</summary>
    public Bootstrap(BootstrapMethod method, IReadOnlyList<int> rolloutsPerProblem, IReadOnlyList<Draw> draws)
    {
        ArgumentNullException.ThrowIfNull(rolloutsPerProblem);
        ArgumentNullException.ThrowIfNull(draws);
        Sampler.CheckShape(rolloutsPerProblem);
        if (draws.Count < 1)
            throw new ArgumentOutOfRangeException(nameof(draws), "the bootstrap needs at least one resample");
        foreach (Draw draw in draws)
            draw.CheckShape(rolloutsPerProblem);
        Method = method;
        RolloutsPerProblem = rolloutsPerProblem;
        _draws = draws;
    }

    public BootstrapMethod Method { get; }
    public IReadOnlyList<int> RolloutsPerProblem { get; }
    public int ProblemCount => RolloutsPerProblem.Count;
    public int Resamples => _draws.Count;
    public IReadOnlyList<Draw> Draws => _draws;

    /// <summary>The statistic on the data, with its 95% interval over the resamples.</summary>
    public Estimate Estimate(Statistic statistic)
    {
        ArgumentNullException.ThrowIfNull(statistic);
        var resampled = new List<double>(_draws.Count);
        foreach (Draw draw in _draws)
            resampled.Add(statistic.Evaluate(draw));
        return Interval(statistic.Value, resampled);
    }

    /// <summary>
    /// The method a report can honestly use for these shapes: the rollout bootstrap needs at least two rollouts of every
    /// problem (with one, each resample is the data itself and the interval has zero width), so it falls back to the
    /// problem bootstrap and says why.
    /// </summary>
    public static (BootstrapMethod Method, string? Note) Resolve(BootstrapMethod requested, params IReadOnlyList<int>[] shapes)
    {
        if (requested == BootstrapMethod.Rollouts && shapes.Any(s => s.Count > 0 && s.Min() < 2))
            return (BootstrapMethod.Problems,
                "bootstrap over problems instead of the requested bootstrap over rollouts: a problem has a single rollout, whose redraws are always itself");
        return (requested, null);
    }

    /// <summary>The point value and the 2.5th/97.5th percentiles of the defined resampled values.</summary>
    internal static Estimate Interval(double value, List<double> resampled)
    {
        resampled.RemoveAll(double.IsNaN);
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

/// <summary>
/// The paired bootstrap of a difference between two settings on the same problems (start vs trained, multi- vs
/// single-turn, true vs random feedback): each resample draws the same problems for both, and for the bootstrap over
/// rollouts the same rollout indices wherever both settings have the same number of rollouts of the problem (rollout
/// i of one setting is paired with rollout i of the other: the evaluations seed sampling per task, rollout and turn).
/// Where the counts differ, each setting's rollouts are redrawn on their own, still within the same problems.
/// </summary>
public sealed class PairedBootstrap
{
    private readonly IReadOnlyList<Draw[]> _draws;

    public PairedBootstrap(BootstrapMethod method, IReadOnlyList<int> first, IReadOnlyList<int> second, int resamples, int seed)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Count != second.Count)
            throw new ArgumentException($"a paired comparison needs the same problems on both sides; got {first.Count} and {second.Count}");
        Method = method;
        First = first;
        Second = second;
        _draws = Sampler.Draws(method, [first, second], resamples, seed);
    }

    public BootstrapMethod Method { get; }
    public IReadOnlyList<int> First { get; }
    public IReadOnlyList<int> Second { get; }
    public int Resamples => _draws.Count;

    /// <summary>first − second on the data, with the 95% interval of the paired resampled differences.</summary>
    public Estimate Difference(Statistic first, Statistic second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var resampled = new List<double>(_draws.Count);
        foreach (Draw[] pair in _draws)
            resampled.Add(first.Evaluate(pair[0]) - second.Evaluate(pair[1]));
        return Bootstrap.Interval(first.Value - second.Value, resampled);
    }
}

/// <summary>Draws resamples for one or more settings of the same problems, sharing whatever the pairing allows.</summary>
internal static class Sampler
{
    internal static void CheckShape(IReadOnlyList<int> rolloutsPerProblem)
    {
        if (rolloutsPerProblem.Count < 1)
            throw new ArgumentOutOfRangeException(nameof(rolloutsPerProblem), "the bootstrap needs at least one problem");
        for (int p = 0; p < rolloutsPerProblem.Count; p++)
            if (rolloutsPerProblem[p] < 1)
                throw new ArgumentOutOfRangeException(nameof(rolloutsPerProblem), $"problem #{p} has no rollouts");
    }

    /// <returns>[resample][setting].</returns>
    internal static IReadOnlyList<Draw[]> Draws(BootstrapMethod method, IReadOnlyList<int>[] shapes, int resamples, int seed)
    {
        foreach (IReadOnlyList<int> shape in shapes)
            CheckShape(shape);
        if (resamples < 1)
            throw new ArgumentOutOfRangeException(nameof(resamples), "the bootstrap needs at least one resample");
        int problems = shapes[0].Count;
        // new Random(seed) is .NET's documented-stable seeded generator: the same seed gives the same draws. The
        // bootstrap over problems draws exactly as this project's earlier problem bootstrap did, so its intervals
        // are unchanged for the same seed.
        var random = new Random(seed);
        int[][][] ones = shapes.Select(s => s.Select(Draw.Ones).ToArray()).ToArray();
        var draws = new List<Draw[]>(resamples);
        for (int b = 0; b < resamples; b++)
        {
            var pair = new Draw[shapes.Length];
            if (method == BootstrapMethod.Problems)
            {
                var problemCounts = new int[problems];
                for (int i = 0; i < problems; i++)
                    problemCounts[random.Next(problems)]++;
                for (int s = 0; s < shapes.Length; s++)
                    pair[s] = new Draw(problemCounts, ones[s]);
            }
            else
            {
                var counts = new int[shapes.Length][][];
                for (int s = 0; s < shapes.Length; s++)
                    counts[s] = new int[problems][];
                for (int p = 0; p < problems; p++)
                    for (int s = 0; s < shapes.Length; s++)
                    {
                        // Same count as an earlier setting: share its redraw, so rollout i is paired with rollout i.
                        int shared = Array.FindIndex(shapes, 0, s, other => other[p] == shapes[s][p]);
                        counts[s][p] = shared >= 0 ? counts[shared][p] : Redraw(random, shapes[s][p]);
                    }
                int[] everyProblemOnce = Draw.Ones(problems);
                for (int s = 0; s < shapes.Length; s++)
                    pair[s] = new Draw(everyProblemOnce, counts[s]);
            }
            draws.Add(pair);
        }
        return draws;
    }

    /// <summary>N draws with replacement from N rollouts, as multiplicities.</summary>
    private static int[] Redraw(Random random, int rollouts)
    {
        var counts = new int[rollouts];
        for (int i = 0; i < rollouts; i++)
            counts[random.Next(rollouts)]++;
        return counts;
    }
}
