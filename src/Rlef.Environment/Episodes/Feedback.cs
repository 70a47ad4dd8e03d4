using System.Text;
using Rlef.Environment.Problems;
using Rlef.Sandbox;

namespace Rlef.Environment.Episodes;

/// <summary>Renders the feedback message for one turn's public-test results (docs/protocol.md §1).</summary>
public static class Feedback
{
    public static string Render(Problem problem, IReadOnlyList<ProblemTest> tests, IReadOnlyList<TestResult> results)
    {
        if (tests.Count != results.Count)
            throw new ArgumentException($"{tests.Count} tests but {results.Count} results");
        return problem.Family.UsesStdioFeedback() ? RenderStdio(problem, tests, results) : RenderFunction(problem, tests, results);
    }

    /// <summary>"Your code failed the following tests:\n\n" + failing entries + "\n" + "Give it another try.\n" + FORMAT_LINE.</summary>
    private static string RenderStdio(Problem problem, IReadOnlyList<ProblemTest> tests, IReadOnlyList<TestResult> results)
    {
        var sb = new StringBuilder(Templates.StdioHeader);
        for (int i = 0; i < tests.Count; i++)
        {
            var r = results[i];
            if (r.Verdict == Verdict.Passed)
                continue;
            string info = r.Verdict switch
            {
                Verdict.WrongAnswer => Templates.StdioWrongOutput
                    .Replace("${expected_output}", r.Expected ?? tests[i].Case.ExpectedOutput ?? "")
                    .Replace("${observed_output}", r.Actual ?? r.Stdout),
                Verdict.Timeout => Templates.StdioTimeout,
                Verdict.MemoryLimit => Templates.OutOfMemory,
                _ => ErrorText(r),
            };
            sb.Append(Templates.StdioEntry.Replace("${input}", tests[i].Display).Replace("${info}", info));
        }
        return sb.Append('\n').Append(Templates.Trailer(problem.Family)).ToString();
    }

    /// <summary>"Your code failed some test cases:\n\n" + an entry per test (failures and successes) + "\n" + trailer.</summary>
    private static string RenderFunction(Problem problem, IReadOnlyList<ProblemTest> tests, IReadOnlyList<TestResult> results)
    {
        var sb = new StringBuilder(Templates.FunctionHeader);
        for (int i = 0; i < tests.Count; i++)
        {
            var r = results[i];
            string test = tests[i].Display;
            string entry = r.Verdict switch
            {
                Verdict.Passed => Templates.FunctionSuccess,
                Verdict.Timeout => Templates.FunctionTimeout,
                Verdict.MemoryLimit => Templates.FunctionErrorFailure.Replace("${stacktrace}", Templates.OutOfMemory),
                _ when AssertionMessage(tests[i].Case, r) is { } assertion => Templates.FunctionAssertionFailure.Replace("${assertion_error}", assertion),
                _ => Templates.FunctionErrorFailure.Replace("${stacktrace}", ErrorText(r)),
            };
            sb.Append(entry.Replace("${test}", test));
        }
        return sb.Append('\n').Append(Templates.Trailer(problem.Family)).ToString();
    }

    /// <summary>
    /// "AssertionError: ..." with the run-time values of a failed rewritten assert, if that is what failed: an assert
    /// test's wrong answer (the sandbox reports the assertion's message), or a trace ending in an AssertionError.
    /// </summary>
    internal static string? AssertionMessage(TestCase test, TestResult r)
    {
        if (test.Kind == TestKind.Assert && r.Verdict == Verdict.WrongAnswer)
        {
            string message = (r.Error ?? "").Trim();
            return message.StartsWith("AssertionError", StringComparison.Ordinal) ? message : "AssertionError: " + message;
        }
        return TraceAssertion(r);
    }

    /// <summary>The last line of the trace when it is an AssertionError, else null.</summary>
    internal static string? TraceAssertion(TestResult r)
    {
        string text = (r.Error ?? r.Stderr).TrimEnd();
        int lastLine = text.LastIndexOf('\n');
        string last = text[(lastLine + 1)..];
        return last.StartsWith("AssertionError", StringComparison.Ordinal) ? last : null;
    }

    /// <summary>The stack trace (already shortened by the sandbox) or, failing that, a short description of the verdict.</summary>
    private static string ErrorText(TestResult r)
    {
        string text = (r.Error is { Length: > 0 } ? r.Error : r.Stderr).TrimEnd('\n');
        if (text.Length > 0)
            return text;
        return r.Verdict switch
        {
            Verdict.OutputLimit => "Output limit exceeded.",
            Verdict.WrongAnswer => Templates.StdioWrongOutput.Replace("${expected_output}", r.Expected ?? "").Replace("${observed_output}", r.Actual ?? r.Stdout),
            _ => r.Verdict.ToName(),
        };
    }
}
