namespace Rlef.Mini.Synthetic;

/// <summary>One stdin/stdout test: the text fed on stdin and the expected stdout.</summary>
public sealed record SyntheticTest(string Input, string Output);

/// <summary>A plausible but wrong solution: the bug it carries, which op it changed, and the code. Never correct.</summary>
public sealed record IncorrectSolution(MutationKind Kind, string Change, string Code);

/// <summary>
/// A generated CodeContests-style problem. <see cref="PublicTests"/> are the examples shown in the statement (with
/// open conventions, the last public test is kept out of it: see <see cref="OpSpec.OpenConventions"/>);
/// <see cref="HiddenTests"/> are the private tests. <see cref="Chain"/> is the task it was built from and
/// <see cref="Domain"/> the input ranges stated in it.
/// </summary>
public sealed record SyntheticProblem
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<SyntheticTest> PublicTests { get; init; }
    public required IReadOnlyList<SyntheticTest> HiddenTests { get; init; }
    /// <summary>The reference solution (Python 3).</summary>
    public required string Solution { get; init; }
    public required IReadOnlyList<IncorrectSolution> IncorrectSolutions { get; init; }
    public required OpChain Chain { get; init; }
    public required Domain Domain { get; init; }
    public int DifficultyLevel { get; init; }
    /// <summary>True when the chain's shape never occurs in the train split (valid / test only).</summary>
    public bool HeldOutStructure { get; init; }

    // Generous for programs this small: a Python start is ~60 ms; the limits only catch a runaway submission.
    public TimeSpan TimeLimit { get; init; } = TimeSpan.FromSeconds(2);
    public long MemoryLimitBytes { get; init; } = 256L << 20;
}
