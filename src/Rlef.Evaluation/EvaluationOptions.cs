using System.Globalization;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation;

/// <summary>
/// An n@k metric (AlphaCode): a budget of <see cref="K"/> model replies, at most <see cref="N"/> submissions.
/// Every reply is a sample (docs/protocol.md §4), so at turn limit T one rollout costs T samples: 1@3 is one rollout of up to
/// three turns and 10@100 is 33 rollouts of up to three turns with up to 10 of them submitted.
/// </summary>
public readonly record struct NAtK(int N, int K)
{
    /// <summary>Rollouts drawn under the budget when each rollout costs <paramref name="turnLimit"/> samples.</summary>
    public int RolloutsDrawn(int turnLimit) => K / turnLimit;

    public override string ToString() => $"{N}@{K}";

    /// <summary>Parses "10@100".</summary>
    public static NAtK Parse(string text)
    {
        string[] parts = text.Split('@');
        if (parts.Length != 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int k))
            throw new FormatException($"'{text}' is not an n@k metric such as 1@3 or 10@100");
        var metric = new NAtK(n, k);
        metric.Validate();
        return metric;
    }

    internal void Validate()
    {
        if (N < 1 || K < 1)
            throw new ArgumentException($"n@k metric {this}: n and k must be at least 1");
        if (N > K)
            throw new ArgumentException($"n@k metric {this}: n submissions cannot exceed the k samples they are chosen from");
    }
}

/// <summary>What to compute from a set of rollouts. Defaults follow docs/protocol.md §4.</summary>
public sealed record EvaluationOptions
{
    /// <summary>The episodes' turn limit T (docs/protocol.md §1, default 3). Solve rates are reported for every limit 1..T.</summary>
    public int TurnLimit { get; init; } = 3;

    /// <summary>n@k metrics; one that needs more rollouts per problem than the data has is skipped with a reason.</summary>
    public IReadOnlyList<NAtK> NAtK { get; init; } = [new(1, 3), new(10, 100)];

    /// <summary>pass@k over rollouts (Chen et al. 2021); k larger than the rollouts per problem is skipped.</summary>
    public IReadOnlyList<int> PassAtK { get; init; } = [1, 10, 100];

    /// <summary>
    /// Turn limits at which pass@k and n@k are reported (each ≤ <see cref="TurnLimit"/>; a rollout is cut at L turns as
    /// the report describes). Null: 1 and T (single- and multi-turn). The paper's Fig. 4 uses 1, 3, 5 and 10 (with T = 10).
    /// </summary>
    public IReadOnlyList<int>? TurnLimits { get; init; }

    /// <summary>Bootstrap resamples for the 95% intervals (docs/protocol.md §4: 200).</summary>
    public int BootstrapResamples { get; init; } = 200;

    /// <summary>
    /// What the bootstrap redraws: each problem's rollouts (the paper's, App. B.1; the default) or the problems.
    /// </summary>
    public BootstrapMethod Bootstrap { get; init; } = BootstrapMethod.Rollouts;

    /// <summary>Sampling temperature of the evaluated rollouts, when known: the report warns where a metric is read at
    /// another temperature than the paper's (docs/protocol.md §4: 0.2 for 1@3, 1.0 for 10@100).</summary>
    public double? Temperature { get; init; }

    /// <summary>Seed of the bootstrap's resampling; equal seeds give equal intervals.</summary>
    public int Seed { get; init; } = 0;

    /// <summary>Labels carried into the report.</summary>
    public string? Dataset { get; init; }
    public string? Policy { get; init; }
    /// <summary>e.g. "execution" (the paper's), "random" or "none" (docs/protocol.md §3/§4 ablations).</summary>
    public string? FeedbackMode { get; init; }
    /// <summary>The separate repair model of later turns when turn 1 came from <see cref="Policy"/>'s first policy
    /// (the paper's App. B.4 comparison); null: one policy for every turn.</summary>
    public string? RepairPolicy { get; init; }
    /// <summary>The few-shot prompt, e.g. "2 examples from FILE (seed 1)" (the paper's App. C.3 baseline); null: none.</summary>
    public string? FewShot { get; init; }
    /// <summary>A temperature drawn per reply, e.g. "U(0.1, 1)" (the paper's SFT data, App. A.3); null: <see cref="Temperature"/>.</summary>
    public string? TemperatureRange { get; init; }

    /// <summary>Parses "1@3,10@100" (a comma-separated list, as the command line takes it).</summary>
    public static IReadOnlyList<NAtK> ParseNAtKList(string text) =>
        Items(text, "--n-at-k").Select(Evaluation.NAtK.Parse).ToList();

    /// <summary>Parses "1,3,5,10" into positive integers; <paramref name="option"/> names the list in errors.</summary>
    public static IReadOnlyList<int> ParseIntList(string text, string option) =>
        Items(text, option).Select(item => int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= 1
            ? value
            : throw new FormatException($"{option}: '{item}' is not a positive integer (expected a list such as 1,3,5,10)")).ToList();

    private static string[] Items(string text, string option)
    {
        string[] items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return items.Length > 0 ? items : throw new FormatException($"{option}: empty list");
    }

    /// <summary>The turn limits metrics are reported at: <see cref="TurnLimits"/> in increasing order, or 1 and T.</summary>
    public IReadOnlyList<int> ReportedTurnLimits() =>
        TurnLimits is { Count: > 0 } limits ? limits.Distinct().Order().ToList() : TurnLimit == 1 ? [1] : [1, TurnLimit];

    internal void Validate()
    {
        if (TurnLimit < 1)
            throw new ArgumentException($"{nameof(TurnLimit)} must be at least 1, got {TurnLimit}");
        foreach (int limit in TurnLimits ?? [])
            if (limit < 1 || limit > TurnLimit)
                throw new ArgumentException($"turn limit {limit} is outside 1..{TurnLimit} (the episodes' turn limit)");
        if (BootstrapResamples < 1)
            throw new ArgumentException($"{nameof(BootstrapResamples)} must be at least 1, got {BootstrapResamples}");
        foreach (NAtK metric in NAtK)
            metric.Validate();
        foreach (int k in PassAtK)
            if (k < 1)
                throw new ArgumentException($"pass@k: k must be at least 1, got {k}");
    }
}
