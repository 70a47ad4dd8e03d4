using System.Globalization;

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

    /// <summary>Bootstrap resamples over problems for the 95% intervals (docs/protocol.md §4: 200).</summary>
    public int BootstrapResamples { get; init; } = 200;

    /// <summary>Seed of the bootstrap's resampling; equal seeds give equal intervals.</summary>
    public int Seed { get; init; } = 0;

    /// <summary>Labels carried into the report.</summary>
    public string? Dataset { get; init; }
    public string? Policy { get; init; }
    /// <summary>e.g. "execution" (the paper's), "random" or "none" (docs/protocol.md §3/§4 ablations).</summary>
    public string? FeedbackMode { get; init; }

    internal void Validate()
    {
        if (TurnLimit < 1)
            throw new ArgumentException($"{nameof(TurnLimit)} must be at least 1, got {TurnLimit}");
        if (BootstrapResamples < 1)
            throw new ArgumentException($"{nameof(BootstrapResamples)} must be at least 1, got {BootstrapResamples}");
        foreach (NAtK metric in NAtK)
            metric.Validate();
        foreach (int k in PassAtK)
            if (k < 1)
                throw new ArgumentException($"pass@k: k must be at least 1, got {k}");
    }
}
