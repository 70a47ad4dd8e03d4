namespace Rlef.Evaluation.Statistics;

/// <summary>
/// What a bootstrap resample draws (docs/protocol.md §4, "95% CI").
/// <list type="bullet">
/// <item><see cref="Rollouts"/> — the paper's (App. B.1): every problem is kept and its N results are redrawn, N with
/// replacement, from its own N rollouts; the interval measures how much the figure owes to the sampled rollouts on
/// this fixed benchmark. It needs at least two rollouts per problem (with one, every resample is the data itself).</item>
/// <item><see cref="Problems"/> — the problems are redrawn with replacement, each keeping all its rollouts; the interval
/// also covers which problems the benchmark happened to contain (wider; the right one for a small or generated set).</item>
/// </list>
/// </summary>
public enum BootstrapMethod
{
    Rollouts,
    Problems,
}

public static class BootstrapMethods
{
    /// <summary>"rollouts" or "problems", as on the command line and in summary.json.</summary>
    public static string Name(this BootstrapMethod method) => method == BootstrapMethod.Rollouts ? "rollouts" : "problems";

    /// <summary>One phrase for reports, e.g. "percentile bootstrap over each problem's rollouts (the paper's, App. B.1)".</summary>
    public static string Description(this BootstrapMethod method) => method == BootstrapMethod.Rollouts
        ? "percentile bootstrap over each problem's rollouts (the paper's, App. B.1: N results redrawn with replacement per problem)"
        : "percentile bootstrap over problems (problems redrawn with replacement, each with all its rollouts)";

    public static BootstrapMethod Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "rollouts" or "rollout" => BootstrapMethod.Rollouts,
        "problems" or "problem" => BootstrapMethod.Problems,
        _ => throw new FormatException($"'{text}' is not a bootstrap method: use rollouts (the paper's) or problems"),
    };
}
