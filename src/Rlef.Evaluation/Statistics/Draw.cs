namespace Rlef.Evaluation.Statistics;

/// <summary>
/// One bootstrap resample of an evaluation, as multiplicities: how many times each problem was drawn, and within each
/// problem how many times each of its rollouts was drawn. The data itself is the draw in which every count is 1. A
/// bootstrap over problems varies only the problem counts; one over rollouts (the paper's) only the rollout counts.
/// </summary>
public sealed class Draw
{
    public Draw(IReadOnlyList<int> problemCounts, IReadOnlyList<IReadOnlyList<int>> rolloutCounts)
    {
        ArgumentNullException.ThrowIfNull(problemCounts);
        ArgumentNullException.ThrowIfNull(rolloutCounts);
        if (problemCounts.Count != rolloutCounts.Count)
            throw new ArgumentException($"a draw needs rollout counts for each of its {problemCounts.Count} problems, got {rolloutCounts.Count}");
        ProblemCounts = problemCounts;
        RolloutCounts = rolloutCounts;
    }

    public IReadOnlyList<int> ProblemCounts { get; }
    public IReadOnlyList<IReadOnlyList<int>> RolloutCounts { get; }

    /// <summary>The data as observed: every problem and every rollout once.</summary>
    public static Draw Identity(IReadOnlyList<int> rolloutsPerProblem) =>
        new(Ones(rolloutsPerProblem.Count), rolloutsPerProblem.Select(Ones).ToArray());

    internal static int[] Ones(int count)
    {
        var ones = new int[count];
        Array.Fill(ones, 1);
        return ones;
    }

    /// <summary>Throws unless this draw has the given shape (problems, and rollouts per problem).</summary>
    internal void CheckShape(IReadOnlyList<int> rolloutsPerProblem)
    {
        if (ProblemCounts.Count != rolloutsPerProblem.Count)
            throw new ArgumentException($"the draw has {ProblemCounts.Count} problems, the statistic {rolloutsPerProblem.Count}");
        for (int p = 0; p < rolloutsPerProblem.Count; p++)
            if (RolloutCounts[p].Count != rolloutsPerProblem[p])
                throw new ArgumentException($"problem #{p}: the draw has {RolloutCounts[p].Count} rollouts, the statistic {rolloutsPerProblem[p]}");
    }
}
