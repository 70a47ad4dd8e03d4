using Rlef.Environment.Problems;

namespace Rlef.Environment.Episodes;

/// <summary>
/// Every text the environment says to the model, in one place: the paper's prompt templates and feedback forms
/// (docs/protocol.md §1; protocol/templates/*.txt, which a test compares with these constants). `${...}` placeholders are
/// the paper's names.
/// </summary>
public static class Templates
{
    /// <summary>The last line of codecontests_initial.txt: how the model must format code.</summary>
    public const string FormatLine =
        "Your code should be enclosed in triple backticks like so: ```python YOUR CODE HERE ```. Use the backticks for your code only.";

    public const string CodeContestsInitial =
        "Provide a Python solution for the following competitive programming question: ${problem}.\n\n" + FormatLine;

    public const string HumanEvalPlusInitial =
        "Write a solution to the following problem and make sure that it passes the tests:\n${problem}";

    public const string MbppPlusInitial =
        "Provide a Python solution for the following problem: ${problem}\nYour code should pass these tests:\n\n${test}\n\n" + FormatLine;

    // Stdin/stdout feedback (CodeContests, APPS): failing public tests only. The timeout text has no period, as in
    // the paper's printed example (examples/example1_turn2_feedback.txt); "Out of memory." has one (docs/protocol.md §1).
    public const string StdioHeader = "Your code failed the following tests:\n\n";
    public const string StdioEntry = "- input `${input}` failed:\n${info}\n";
    public const string StdioWrongOutput = "Expected output `${expected_output}` but got `${observed_output}`";
    public const string StdioTimeout = "Execution took too long";
    public const string OutOfMemory = "Out of memory.";

    // Function-test feedback (HumanEval+, MBPP+): failures and successes, in test order.
    public const string FunctionHeader = "Your code failed some test cases:\n\n";
    public const string FunctionAssertionFailure = "- Failure: `${test}`:\n`${assertion_error}`\n";
    public const string FunctionErrorFailure = "- Failure: `${test}`:\n${stacktrace}\n";
    public const string FunctionTimeout = "- Failure: `${test}`:\nExecution took too long.\n";
    public const string FunctionSuccess = "- Success: `${test}`\n";

    public const string TryAgain = "Give it another try.";

    /// <summary>docs/protocol.md §1: the reply to a turn without extractable code.</summary>
    public const string InvalidCodeReply = "Could not parse your code.\n" + TryAgain + "\n" + FormatLine;

    /// <summary>The last part of every feedback message; HumanEval+'s form has no format line (its reply is prefilled).</summary>
    public static string Trailer(ProblemFamily family) =>
        family is ProblemFamily.HumanEval or ProblemFamily.HumanEvalPlus ? TryAgain : TryAgain + "\n" + FormatLine;

    public static string InitialPrompt(Problem problem) => problem.Family switch
    {
        // LiveCodeBench: the paper's contest prompt (docs/datasets.md "LiveCodeBench", "The prompt").
        ProblemFamily.CodeContests or ProblemFamily.Apps or ProblemFamily.LiveCodeBench => CodeContestsInitial.Replace("${problem}", problem.Statement),
        ProblemFamily.HumanEval or ProblemFamily.HumanEvalPlus => HumanEvalPlusInitial.Replace("${problem}", problem.Statement),
        // ${test} first: a statement that happens to contain "${test}" must stay as written.
        ProblemFamily.Mbpp or ProblemFamily.MbppPlus => MbppPlusInitial.Replace("${test}", problem.PromptTests).Replace("${problem}", problem.Statement),
        _ => throw new ArgumentOutOfRangeException(nameof(problem)),
    };

    /// <summary>The "no execution feedback" ablation's message (docs/protocol.md §3): only the request to try again.</summary>
    public static string NoFeedback(ProblemFamily family) => Trailer(family);
}
