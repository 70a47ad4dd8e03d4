namespace Rlef.Mini.Synthetic;

/// <summary>
/// The knobs that make generated problems harder or easier. A problem draws its number of steps, whether it has a
/// leading t, whether negative values / empty results occur, and its test counts from these ranges.
/// </summary>
public sealed record Difficulty
{
    /// <summary>Written to the CodeContests <c>difficulty</c> field (proto enum: 1 EASY, 2 MEDIUM, 3 HARD).</summary>
    public int Level { get; init; } = 2;

    /// <summary>Number of transforming operations between reading the input and printing the answer.</summary>
    public int MinSteps { get; init; } = 1;
    public int MaxSteps { get; init; } = 3;

    /// <summary>Share of problems whose input starts with the number of test cases t.</summary>
    public double MultiCaseProbability { get; init; } = 0.4;

    /// <summary>
    /// Share of problems whose values may be negative, and of test cases built from boundary values (the ops'
    /// thresholds and constants, 0, tiny lists and strings), where empty results and sign bugs show up.
    /// </summary>
    public double EdgeCaseProbability { get; init; } = 0.4;

    /// <summary>
    /// Share of list and string problems whose answer is a position (of the largest number, of a letter) and whose
    /// statement does not say whether positions count from 0 or from 1: the examples show it. 0 (every preset): none,
    /// and then no random number is drawn for it, so the presets' problems are unchanged.
    /// </summary>
    public double PositionProbability { get; init; }

    /// <summary>
    /// Share of those positional problems whose statement leaves open, besides the base, which occurrence counts when
    /// several qualify (the first or the last largest number, the first or the last letter c); a public test that
    /// settles it is kept out of the statement's examples, so only a failing program's feedback shows it. 0 (every
    /// preset): none, and no random number is drawn for it.
    /// </summary>
    public double OpenConventionProbability { get; init; }

    public int MinPublicTests { get; init; } = 1;
    public int MaxPublicTests { get; init; } = 3;

    /// <summary>Random hidden tests drawn first; tests that expose a kept incorrect solution are added up to <see cref="MaxHiddenTests"/>.</summary>
    public int MinHiddenTests { get; init; } = 8;
    public int MaxHiddenTests { get; init; } = 20;

    /// <summary>Incorrect solutions kept per problem (each provably fails a hidden test).</summary>
    public int MaxIncorrectSolutions { get; init; } = 4;

    public IReadOnlyList<Family> Families { get; init; } = [Family.Numbers, Family.List, Family.Text];

    public static Difficulty Easy { get; } = new()
    {
        Level = 1, MinSteps = 1, MaxSteps = 2, MultiCaseProbability = 0.25, EdgeCaseProbability = 0.2,
    };

    public static Difficulty Medium { get; } = new();

    public static Difficulty Hard { get; } = new()
    {
        Level = 3, MinSteps = 2, MaxSteps = 4, MultiCaseProbability = 0.6, EdgeCaseProbability = 0.6,
    };

    /// <summary>
    /// "easy", "medium" or "hard", optionally followed by overrides of its shares: "easy:multicase=0.55,edge=0.3,position=0.5,open=1"
    /// (<see cref="MultiCaseProbability"/>, <see cref="EdgeCaseProbability"/>, <see cref="PositionProbability"/>,
    /// <see cref="OpenConventionProbability"/>).
    /// </summary>
    public static Difficulty FromName(string name)
    {
        int colon = name.IndexOf(':');
        string level = colon < 0 ? name : name[..colon];
        Difficulty d = level.Trim().ToLowerInvariant() switch
        {
            "easy" => Easy,
            "medium" => Medium,
            "hard" => Hard,
            _ => throw new ArgumentException($"unknown difficulty '{level}' (expected easy, medium or hard)", nameof(name)),
        };
        if (colon < 0)
            return d;
        foreach (string part in name[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || !double.TryParse(kv[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v))
                throw new ArgumentException($"difficulty '{name}': override '{part}' is not key=number", nameof(name));
            d = kv[0].ToLowerInvariant() switch
            {
                "multicase" => d with { MultiCaseProbability = v },
                "edge" => d with { EdgeCaseProbability = v },
                "position" => d with { PositionProbability = v },
                "open" => d with { OpenConventionProbability = v },
                _ => throw new ArgumentException($"difficulty '{name}': unknown override '{kv[0]}' (expected multicase, edge, position or open)", nameof(name)),
            };
        }
        d.Validate();
        return d;
    }

    public void Validate()
    {
        if (MinSteps < 1 || MaxSteps < MinSteps)
            throw new ArgumentException($"steps must satisfy 1 <= MinSteps <= MaxSteps (got {MinSteps}..{MaxSteps})");
        if (MinPublicTests < 1 || MaxPublicTests < MinPublicTests)
            throw new ArgumentException($"public tests must satisfy 1 <= min <= max (got {MinPublicTests}..{MaxPublicTests})");
        if (MinHiddenTests < 1 || MaxHiddenTests < MinHiddenTests)
            throw new ArgumentException($"hidden tests must satisfy 1 <= min <= max (got {MinHiddenTests}..{MaxHiddenTests})");
        if (MultiCaseProbability is < 0 or > 1 || EdgeCaseProbability is < 0 or > 1 || PositionProbability is < 0 or > 1 || OpenConventionProbability is < 0 or > 1)
            throw new ArgumentException("probabilities must lie in [0, 1]");
        if (Families.Count == 0)
            throw new ArgumentException("at least one family is needed");
    }
}
