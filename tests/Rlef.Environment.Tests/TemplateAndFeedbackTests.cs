using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Sandbox;
using Rlef.Tests;

namespace Rlef.Environment.Tests;

/// <summary>The texts the model sees, against the paper's templates and printed examples (docs/protocol/).</summary>
public sealed class TemplateAndFeedbackTests
{
    /// <summary>A file of docs/protocol (the paper's templates and printed examples, kept in the repository).</summary>
    private static string Protocol(string relative) => File.ReadAllText(Path.Combine(RepoPaths.Protocol, relative));

    [Theory]
    [InlineData("templates/codecontests_initial.txt", Templates.CodeContestsInitial)]
    [InlineData("templates/humanevalplus_initial.txt", Templates.HumanEvalPlusInitial)]
    [InlineData("templates/mbppplus_initial.txt", Templates.MbppPlusInitial)]
    public void InitialTemplatesEqualTheProtocolFiles(string file, string constant)
    {
        string text = Protocol(file);
        Assert.Equal(text, constant);
    }

    [Fact]
    public void FeedbackFormsAppearInTheProtocolFiles()
    {
        string cc = Protocol("templates/codecontests_feedback_forms.txt");
        string he = Protocol("templates/humanevalplus_feedback_forms.txt");
        string mb = Protocol("templates/mbppplus_feedback_forms.txt");
        Assert.StartsWith(Templates.StdioHeader, cc);
        Assert.Contains("- input `${input}` failed:\n" + Templates.StdioWrongOutput + "\n", cc);
        Assert.Contains("- input `${input}` failed:\n${stacktrace}\n", cc);
        Assert.EndsWith("\n" + Templates.TryAgain + "\n" + Templates.FormatLine, cc);
        foreach (string? form in new[] { he, mb })
        {
            Assert.NotNull(form);
            Assert.StartsWith(Templates.FunctionHeader, form);
            Assert.Contains(Templates.FunctionErrorFailure, form);
            Assert.Contains(Templates.FunctionTimeout, form);
            Assert.Contains(Templates.FunctionSuccess, form);
        }
        Assert.Contains(Templates.FunctionAssertionFailure, he);
        Assert.Contains(Templates.FunctionAssertionFailure.Replace("${assertion_error}", "${error}"), mb);
        Assert.EndsWith("\n" + Templates.Trailer(ProblemFamily.HumanEvalPlus), he);
        Assert.EndsWith("\n" + Templates.Trailer(ProblemFamily.MbppPlus), mb);
    }

    internal static Problem Stdio(params (string Input, string Output)[] tests) => new()
    {
        Id = "example",
        Family = ProblemFamily.CodeContests,
        Statement = "example",
        PublicTests = tests.Select(t => new ProblemTest(TestCase.Stdio(t.Input, t.Output), t.Input)).ToList(),
    };

    internal const string Example1Input = "4\n1 1\n999999999 1000000000\n8 26\n1 999999999\n";
    internal const string Example1Expected = "0\n1\n12\n499999999\n";

    [Fact]
    public void Example1Turn1IsReproducedFromAWrongAnswerVerdict()
    {
        string expected = Protocol("examples/example1_turn1_feedback.txt");
        var problem = Stdio((Example1Input, Example1Expected));
        var result = new TestResult { Verdict = Verdict.WrongAnswer, Expected = Example1Expected, Actual = "0\n1\n13\n499999999\n", Stdout = "0\n1\n13\n499999999\n" };
        Assert.Equal(expected, Feedback.Render(problem, problem.PublicTests, [result]));
    }

    [Fact]
    public void Example1Turn2IsReproducedFromATimeoutVerdict()
    {
        string expected = Protocol("examples/example1_turn2_feedback.txt");
        var problem = Stdio((Example1Input, Example1Expected));
        Assert.Equal(expected, Feedback.Render(problem, problem.PublicTests, [new TestResult { Verdict = Verdict.Timeout }]));
    }

    [Fact]
    public void Example2ListsOnlyTheFailingTests()
    {
        string expected = Protocol("examples/example2_turn1_feedback.txt");
        var problem = Stdio(("4\n6 2 7 3\n", "0 2 12 22\n"), ("1\n5\n", "0\n"), ("3\n3 2 1\n", "0 3 5\n"));
        TestResult[] results =
        [
            new() { Verdict = Verdict.WrongAnswer, Expected = "0 2 12 22\n", Actual = "0 2 14 36 " },
            new() { Verdict = Verdict.Passed },
            new() { Verdict = Verdict.WrongAnswer, Expected = "0 3 5\n", Actual = "0 3 8 " },
        ];
        Assert.Equal(expected, Feedback.Render(problem, problem.PublicTests, results));
    }

    [Fact]
    public void StdioFeedbackShowsTracesAndMemoryErrors()
    {
        var problem = Stdio(("1\n", "2\n"), ("3\n", "4\n"));
        string text = Feedback.Render(problem, problem.PublicTests,
        [
            new TestResult { Verdict = Verdict.RuntimeError, Error = "Traceback (most recent call last):\n  File \"solution.py\", line 1, in <module>\nZeroDivisionError: division by zero\n" },
            new TestResult { Verdict = Verdict.MemoryLimit },
        ]);
        Assert.Equal(
            "Your code failed the following tests:\n\n- input `1\n` failed:\nTraceback (most recent call last):\n  File \"solution.py\", line 1, in <module>\n" +
            "ZeroDivisionError: division by zero\n- input `3\n` failed:\nOut of memory.\n\nGive it another try.\n" + Templates.FormatLine, text);
    }

    [Fact]
    public void FunctionFeedbackListsFailuresAndSuccessesWithRunTimeValues()
    {
        var tests = new[] { "assert add(1, 2) == 3", "assert add(2, 2) == 5", "assert add(0, 0) == 0", "assert add(1, 1) == 2" }
            .Select(s => new ProblemTest(TestCase.Assert(s), s)).ToList();
        var problem = new Problem { Id = "p", Family = ProblemFamily.HumanEvalPlus, Statement = "def add(a, b):", PublicTests = tests };
        string text = Feedback.Render(problem, tests,
        [
            new TestResult { Verdict = Verdict.Passed },
            new TestResult { Verdict = Verdict.RuntimeError, Error = "Traceback (most recent call last):\n  File \"test.py\", line 3, in <module>\nAssertionError: 4 != 5" },
            new TestResult { Verdict = Verdict.Timeout },
            new TestResult { Verdict = Verdict.RuntimeError, Error = "Traceback (most recent call last):\nNameError: name 'x' is not defined" },
        ]);
        Assert.Equal(
            "Your code failed some test cases:\n\n- Success: `assert add(1, 2) == 3`\n- Failure: `assert add(2, 2) == 5`:\n`AssertionError: 4 != 5`\n" +
            "- Failure: `assert add(0, 0) == 0`:\nExecution took too long.\n- Failure: `assert add(1, 1) == 2`:\nTraceback (most recent call last):\n" +
            "NameError: name 'x' is not defined\n\nGive it another try.", text);
        var mbpp = problem with { Family = ProblemFamily.MbppPlus };
        Assert.EndsWith("Give it another try.\n" + Templates.FormatLine, Feedback.Render(mbpp, tests, Enumerable.Repeat(new TestResult { Verdict = Verdict.Passed }, 4).ToList()));
    }

    [Fact]
    public void InitialPromptsFillThePlaceholders()
    {
        var mbpp = new Problem { Id = "m", Family = ProblemFamily.MbppPlus, Statement = "Write a function to add.", PromptTests = "assert add(1, 2) == 3" };
        Assert.Equal("Provide a Python solution for the following problem: Write a function to add.\nYour code should pass these tests:\n\n" +
                     "assert add(1, 2) == 3\n\n" + Templates.FormatLine, Templates.InitialPrompt(mbpp));
        var cc = new Problem { Id = "c", Family = ProblemFamily.CodeContests, Statement = "Sum two numbers" };
        Assert.Equal("Provide a Python solution for the following competitive programming question: Sum two numbers.\n\n" + Templates.FormatLine,
            Templates.InitialPrompt(cc));
    }

    [Theory]
    [InlineData("Here:\n```python\nprint(1)\n```\nand\n```python\nprint(2)\n```", "print(1)\n")]
    [InlineData("```\nprint(3)\n```", "print(3)\n")]
    [InlineData("text\n```cpp\nint main(){}\n```\n```python\nprint(4)\n```", "print(4)\n")]
    [InlineData("```python\nprint(5)", "print(5)")]
    [InlineData("no code here", null)]
    [InlineData("```python\n\n```", null)]
    public void CodeExtractionTakesThePythonFenceFirst(string reply, string? code) => Assert.Equal(code, CodeExtractor.Extract(reply));
}
