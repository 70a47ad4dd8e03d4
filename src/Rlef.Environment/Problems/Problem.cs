using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>The benchmark a problem comes from; it picks the prompt template and the feedback form (docs/protocol.md §1).</summary>
public enum ProblemFamily
{
    CodeContests,
    Apps,
    HumanEval,
    HumanEvalPlus,
    Mbpp,
    MbppPlus,
    LiveCodeBench,
}

public static class ProblemFamilies
{
    /// <summary>
    /// Stdin/stdout problems (CodeContests, APPS) get the feedback that lists failing public tests only; function
    /// problems (HumanEval(+), MBPP(+)) get the form that lists failures and successes. LiveCodeBench is a contest
    /// benchmark: its functional (LeetCode) tests are listed like stdin tests, by their input (docs/datasets.md).
    /// </summary>
    public static bool UsesStdioFeedback(this ProblemFamily family) =>
        family is ProblemFamily.CodeContests or ProblemFamily.Apps or ProblemFamily.LiveCodeBench;

    /// <summary>The name on the command line and in persisted rollouts.</summary>
    public static string ToName(this ProblemFamily family) => family switch
    {
        ProblemFamily.CodeContests => "codecontests",
        ProblemFamily.Apps => "apps",
        ProblemFamily.HumanEval => "humaneval",
        ProblemFamily.HumanEvalPlus => "humanevalplus",
        ProblemFamily.Mbpp => "mbpp",
        ProblemFamily.MbppPlus => "mbppplus",
        ProblemFamily.LiveCodeBench => "livecodebench",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>Every dataset name the command line accepts.</summary>
    public static readonly IReadOnlyList<string> Names = Enum.GetValues<ProblemFamily>().Select(f => f.ToName()).ToList();

    public static ProblemFamily Parse(string name) => name.ToLowerInvariant() switch
    {
        "codecontests" => ProblemFamily.CodeContests,
        "apps" => ProblemFamily.Apps,
        "humaneval" => ProblemFamily.HumanEval,
        "humanevalplus" => ProblemFamily.HumanEvalPlus,
        "mbpp" => ProblemFamily.Mbpp,
        "mbppplus" => ProblemFamily.MbppPlus,
        "livecodebench" => ProblemFamily.LiveCodeBench,
        _ => throw new FormatException($"unknown dataset '{name}' (expected {string.Join(", ", Names)})"),
    };
}

/// <summary>
/// One test as the environment sees it: what the sandbox runs, and how feedback names it. <see cref="Display"/> is the
/// stdin text for stdio tests and the original assert statement for function tests (the feedback's `${test}`).
/// </summary>
public sealed record ProblemTest(TestCase Case, string Display)
{
    /// <summary>Where the test comes from in the data, e.g. `plus_input[17]` (for reports and subsets).</summary>
    public string Origin { get; init; } = "";
}

/// <summary>
/// A problem ready for an episode. <see cref="Statement"/> is the raw `${problem}` of the initial template.
/// <see cref="PublicTests"/> give feedback; the submission is judged on public + <see cref="PrivateTests"/>.
/// </summary>
public sealed record Problem
{
    public required string Id { get; init; }
    public required ProblemFamily Family { get; init; }
    public required string Statement { get; init; }

    /// <summary>Function benchmarks: the function the tests call.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>MBPP(+): the asserts shown in the prompt (`${test}` of mbppplus_initial.txt).</summary>
    public string PromptTests { get; init; } = "";

    /// <summary>HumanEval(+): the assistant turn starts with this text (the function stub in a python fence).</summary>
    public string? AssistantPrefix { get; init; }

    public IReadOnlyList<ProblemTest> PublicTests { get; init; } = [];
    public IReadOnlyList<ProblemTest> PrivateTests { get; init; } = [];

    /// <summary>
    /// Python appended after the solution's code for every run (a driver for call-based APPS problems, an argument
    /// adapter for MBPP+). Appended, not prepended, so line numbers in the solution's tracebacks stay right.
    /// </summary>
    public string CodeSuffix { get; init; } = "";

    /// <summary>
    /// Python run before the solution's code (LiveCodeBench's harness imports). It must be one line ending in a
    /// newline: the episode moves the line numbers of tracebacks back by one so they still point into the reply.
    /// </summary>
    public string CodePrefix { get; init; } = "";

    public Comparison Comparison { get; init; } = Comparison.CodeContests;
    public ExecutionLimits Limits { get; init; } = new();

    /// <summary>The reference solution when the dataset has one (HumanEval(+), MBPP(+)): full program text.</summary>
    public string? CanonicalSolution { get; init; }

    /// <summary>CodeContests `solutions`: the dataset's correct Python 3 programs (SFT data, oracle checks).</summary>
    public IReadOnlyList<string> Solutions { get; init; } = [];

    /// <summary>
    /// CodeContests `incorrect_solutions`: the dataset's incorrect Python 3 programs. The paper's random-feedback
    /// ablation runs one of another problem's on this problem's public tests (docs/protocol.md §4).
    /// </summary>
    public IReadOnlyList<string> IncorrectSolutions { get; init; } = [];

    /// <summary>False for statement-only data (the shared CodeContests copy): such problems cannot be evaluated.</summary>
    public bool HasTests => PublicTests.Count + PrivateTests.Count > 0;

    public IEnumerable<ProblemTest> AllTests => PublicTests.Concat(PrivateTests);
}
