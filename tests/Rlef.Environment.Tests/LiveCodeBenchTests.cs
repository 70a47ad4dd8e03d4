using System.Text;
using System.Text.Json;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Sandbox;

namespace Rlef.Environment.Tests;

/// <summary>LiveCodeBench release files: both private-test encodings, refused pickles, filters, bad records.</summary>
public sealed class LiveCodeBenchLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-lcb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // Made with Python 3.11: base64(zlib(pickle.dumps(json.dumps(LiveCodeBenchRecords.FunctionalPrivateTests), protocol=P))), as
    // LiveCodeBench's code_generation_lite stores private_test_cases (P = 4, 3).
    private const string PickledProtocol4 = "eJxrYJnawwABPR3R1UqZeQWlJUpWCkrRhjoKRjoKxrExeUZKOgpK+aUlMBmwMEisJLW4pKSyIBUkmlaal1ySmZ+XmKNUq6OAbJAp0AgDNCPwao+dogcAjsEtAg==";
    private const string PickledProtocol3 = "eJxrYI7oYGBgiK5WyswrKC1RslJQijbUUTDSUTCOjckzUtJRUMovLYHJgIVBYiWpxSUllQWpING00rzkksz8vMQcpVodBWSDTIFGGKAZgVd7bCGDHgD0oCuJ";

    // Python 3.11 pickles of an object whose __reduce__ is (os.system, ("echo pwned",)): protocol 0 (GLOBAL + REDUCE)
    // and protocol 4 (STACK_GLOBAL + REDUCE). A general unpickler would run the command.
    private const string HostileProtocol0 = "eJxLLsgvzqzgKq4sLknN5Sow4NIIS03OyFcoKM9LTeEqMOQqKTDiCiow5tIDADn+DVc=";
    private const string HostileProtocol4 = "eJxrYJmqygABPawF+cWZFVN62Iori0tSc6dMntLDlZqcka9QUJ6XmjKldUrQFD0AXoEQvQ==";

    private string Write(string name, params string[] lines)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void BothPrivateTestEncodingsLoadToTheSameTests()
    {
        string path = Write("test.jsonl", LiveCodeBenchRecords.Stdin(), LiveCodeBenchRecords.Functional(PickledProtocol4), LiveCodeBenchRecords.Functional(PickledProtocol3, id: "3001"),
            LiveCodeBenchRecords.Functional(JsonSerializer.Serialize(JsonDocument.Parse(LiveCodeBenchRecords.FunctionalPrivateTests).RootElement), id: "3002"));
        var problems = LiveCodeBenchLoader.Load(path);
        Assert.Equal(4, problems.Count);

        var stdin = problems[0];
        Assert.Equal(ProblemFamily.LiveCodeBench, stdin.Family);
        Assert.Equal("abc001_a", stdin.Id);
        Assert.Null(stdin.EntryPoint);
        Assert.Equal(Comparison.LiveCodeBench, stdin.Comparison);
        Assert.Equal(TestKind.Stdio, Assert.Single(stdin.PublicTests).Case.Kind);
        Assert.Equal(["30\n", "0\n"], stdin.PrivateTests.Select(t => t.Case.ExpectedOutput));
        Assert.Equal("", stdin.CodeSuffix);
        Assert.Equal(LiveCodeBenchLoader.HarnessImports, stdin.CodePrefix);

        foreach (var functional in problems.Skip(1))
        {
            Assert.Equal("tailAfter", functional.EntryPoint);
            Assert.Equal(2, functional.PrivateTests.Count);
            var first = functional.PrivateTests[0].Case;
            Assert.Equal(TestKind.Call, first.Kind);
            Assert.Equal(LiveCodeBenchLoader.CallEntry, first.EntryPoint);
            Assert.Equal("[[1, 2, 3], 2]", first.ArgumentsJson);
            Assert.Equal("[2, 3]", first.ExpectedValue);
            Assert.Equal("[1, 2, 3]\n2", functional.PrivateTests[0].Display);
            Assert.Contains(LiveCodeBenchLoader.StarterCodeInstruction + "\n```python\nclass Solution:", functional.Statement);
            Assert.Contains("def __rlef_lcb_call", functional.CodeSuffix);
        }
        Assert.Equal(problems[1].PrivateTests.Select(t => t.Case), problems[2].PrivateTests.Select(t => t.Case));
        Assert.Equal(problems[1].PrivateTests.Select(t => t.Case), problems[3].PrivateTests.Select(t => t.Case));
    }

    /// <summary>A private_test_cases value from code_generation_lite itself (Codeforces 1873A, 2023-08-21).</summary>
    private const string RealPrivateTests =
        "eJxrYJmaz8gABhEZQEZ0tVJmXkFpiZKVgpJhTF5iUnJMnpKOglJ+aQlUNNI1GCJUklpcUlJZkAoSLC5JycxTqtVRQNJuDNWOILAYhCCIMdI0Ji85MQloWjKQSE5KjMlLSgSam5SciG64nz+y2WACJESMJWYY7ibFG8T5KnaKHgAcinnp";

    [Fact]
    public void APrivateTestValueFromTheReleaseDecodes()
    {
        string path = Write("test.jsonl", LiveCodeBenchRecords.Stdin("1873_A", "2023-08-21T00:00:00", RealPrivateTests));
        var problem = Assert.Single(LiveCodeBenchLoader.Load(path));
        Assert.Equal(4, problem.PrivateTests.Count);
        Assert.Equal(("1\nabc\n", "YES\n"), (problem.PrivateTests[0].Case.Input, problem.PrivateTests[0].Case.ExpectedOutput));
        Assert.Equal("NO\nYES\nYES\nYES\nNO\n", problem.PrivateTests[2].Case.ExpectedOutput);
    }

    [Theory]
    [InlineData(HostileProtocol0, "GLOBAL")]
    [InlineData(HostileProtocol4, "STACK_GLOBAL")]
    public void AHostilePickleIsRefusedNamingTheOpcodeFileLineAndField(string hostile, string opcode)
    {
        string path = Write("test.jsonl", LiveCodeBenchRecords.Stdin(), LiveCodeBenchRecords.Functional(hostile));
        var e = Assert.Throws<DatasetFormatException>(() => LiveCodeBenchLoader.Load(path));
        Assert.Equal(path, e.Path);
        Assert.Equal(2, e.Line);
        Assert.Equal("private_test_cases", e.Field);
        Assert.Contains($"({opcode})", e.Message);
        Assert.Contains("refused pickle", e.Message);
    }

    [Fact]
    public void ThePickleReaderAcceptsOnlyALoneString()
    {
        byte[] Frame(params byte[] body) => [0x80, 4, .. body];
        Assert.Equal("hi", PickledString.Read(Frame(0x8c, 2, (byte)'h', (byte)'i', 0x94, (byte)'.')));
        Assert.Equal("hé", PickledString.Read(Frame((byte)'X', 3, 0, 0, 0, (byte)'h', 0xc3, 0xa9, (byte)'q', 0, (byte)'.')));
        Assert.Equal("", PickledString.Read(Frame(0x8d, 0, 0, 0, 0, 0, 0, 0, 0, (byte)'.')));
        // No STOP, two strings, bytes after STOP, a list, a length past the end, invalid UTF-8, nothing pushed.
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame(0x8c, 1, (byte)'a')));
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame(0x8c, 1, (byte)'a', 0x8c, 1, (byte)'b', (byte)'.')));
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame(0x8c, 1, (byte)'a', (byte)'.', 0)));
        Assert.Contains("EMPTY_LIST", Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame((byte)']', (byte)'.'))).Message);
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame((byte)'X', 0xff, 0xff, 0xff, 0x7f, (byte)'a', (byte)'.')));
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame(0x8c, 1, 0xff, (byte)'.')));
        Assert.Throws<UnsupportedPickleException>(() => PickledString.Read(Frame((byte)'.')));
    }

    [Theory]
    [InlineData("question_content", "missing")]
    [InlineData("private_test_cases", "neither a JSON list nor base64")]
    [InlineData("public_test_cases[0].testtype", "expected \"stdin\" or \"functional\"")]
    [InlineData("private_test_cases[0].input line 1", "not valid JSON")]
    [InlineData("public_test_cases[0].testtype", "metadata has no func_name")]
    [InlineData("contest_date", "not an ISO date")]
    [InlineData("private_test_cases", "not zlib")]
    public void AMalformedRecordNamesFileLineAndField(string field, string problem)
    {
        var good = JsonNode(LiveCodeBenchRecords.Functional(PickledProtocol4));
        switch (problem)
        {
            case "missing": good.Remove("question_content"); break;
            case "neither a JSON list nor base64": good["private_test_cases"] = "not base64 !"; break;
            case "expected \"stdin\" or \"functional\"": good["public_test_cases"] = """[{"input": "1", "output": "1", "testtype": "interactive"}]"""; break;
            case "not valid JSON": good["private_test_cases"] = """[{"input": "[1, 2", "output": "1", "testtype": "functional"}]"""; break;
            case "metadata has no func_name": good["metadata"] = "{}"; break;
            case "not an ISO date": good["contest_date"] = "yesterday"; break;
            case "not zlib": good["private_test_cases"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("plain text")); break;
        }
        string path = Write("test.jsonl", LiveCodeBenchRecords.Stdin(), good.ToJsonString());
        var e = Assert.Throws<DatasetFormatException>(() => LiveCodeBenchLoader.Load(path, new LiveCodeBenchSelection()));
        Assert.Equal((path, 2, field), (e.Path, e.Line, e.Field));
        Assert.Contains(problem == "not zlib" ? "not zlib-compressed" : problem, e.Message);
    }

    private static System.Text.Json.Nodes.JsonObject JsonNode(string json) => System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();

    [Fact]
    public void ReleasesPickFilesAndDatesFilterAsLiveCodeBenchDoes()
    {
        Write("test.jsonl", LiveCodeBenchRecords.Stdin("a", "2023-05-01T00:00:00"), LiveCodeBenchRecords.Stdin("b", "2023-09-30T12:00:00"));
        Write("test2.jsonl", LiveCodeBenchRecords.Stdin("c", "2024-01-10T00:00:00"));
        Ids(null).ShouldBe("a b c");
        Ids(new() { Release = "release_v1" }).ShouldBe("a b");
        Ids(new() { Release = "v2" }).ShouldBe("c");
        Ids(new() { Release = "release_v2" }).ShouldBe("a b c");
        Ids(new() { Release = "v1_v2" }).ShouldBe("a b c");
        Ids(new() { Since = new DateOnly(2023, 9, 1) }).ShouldBe("b c");
        // The end day at 00:00, as LiveCodeBench compares: a contest later that day is outside.
        Ids(new() { Until = new DateOnly(2023, 9, 30) }).ShouldBe("a");
        Ids(new() { Since = new DateOnly(2023, 6, 1), Until = new DateOnly(2023, 10, 1) }).ShouldBe("b");

        Assert.Contains("test3.jsonl", Assert.Throws<FileNotFoundException>(() => LiveCodeBenchLoader.Load(_dir, new() { Release = "release_v3" })).Message);
        Assert.Throws<ArgumentException>(() => LiveCodeBenchLoader.Load(_dir, new() { Release = "release_v9" }));
        Assert.Throws<ArgumentException>(() => LiveCodeBenchLoader.Load(_dir, new() { Release = "latest" }));
        Assert.Throws<ArgumentException>(() => LiveCodeBenchLoader.Load(Path.Combine(_dir, "test.jsonl"), new() { Release = "v1" }));
    }

    private string Ids(LiveCodeBenchSelection? selection) => string.Join(" ", LiveCodeBenchLoader.Load(_dir, selection).Select(p => p.Id));

    [Theory]
    [InlineData("Yes\n", "Yes", true)]
    [InlineData("1 2\n3\n", "  1 2  \n3", true)]
    [InlineData("1.50\n", "1.5\n", true)]
    [InlineData("1000\n", "1e3\n", true)]
    [InlineData("123456789012345678901234567890123\n", "123456789012345678901234567890123", true)]
    [InlineData("Yes\n", "YES\n", false)]
    [InlineData("0.333333\n", "0.3333333\n", false)]
    [InlineData("1 2\n", "1\n2\n", false)]
    public void StdinOutputsCompareAsLiveCodeBenchDoes(string expected, string actual, bool match) =>
        Assert.Equal(match, OutputComparer.Matches(Comparison.LiveCodeBench, expected, actual));

    [Fact]
    public void TracebackLinesMoveBackOverThePrefix()
    {
        string trace = "Traceback (most recent call last):\n  File \"solution.py\", line 4, in f\n  File \"test.py\", line 4\nZeroDivisionError";
        Assert.Equal(trace.Replace("solution.py\", line 4", "solution.py\", line 3"), SolutionLines.Unshift(trace));
        Assert.Null(SolutionLines.Unshift((string?)null));
    }
}

internal static class StringAssertions
{
    public static void ShouldBe(this string actual, string expected) => Assert.Equal(expected, actual);
}

/// <summary>LiveCodeBench problems in the real sandbox: stdin and LeetCode functional tests, the harness imports.</summary>
[Collection("sandbox")]
public sealed class LiveCodeBenchEpisodeTests(SandboxFixture sandbox) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-lcb-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fence(string code) => "```python\n" + code + "\n```";

    private (IReadOnlyList<Problem> Problems, ReplayPolicy Policy) Setup(params (string Task, string[] Replies)[] replies)
    {
        string data = Path.Combine(_dir, "test.jsonl");
        File.WriteAllLines(data, [LiveCodeBenchRecords.Stdin(), LiveCodeBenchRecords.Functional(
            JsonSerializer.Serialize(JsonDocument.Parse(LiveCodeBenchRecords.FunctionalPrivateTests).RootElement))]);
        string replay = Path.Combine(_dir, $"replay-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(replay, replies.Select(t => JsonSerializer.Serialize(new { task_id = t.Task, replies = t.Replies })));
        return (LiveCodeBenchLoader.Load(data), new ReplayPolicy(replay));
    }

    [Fact]
    public async Task AStdinProblemPassesItsTestsAfterFeedback()
    {
        var (problems, policy) = Setup(("abc001_a", [Fence("a, b = map(int, input().split())\nprint(a - b)"), Fence("a, b = map(int, input().split())\nprint(a + b)")]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problems[0], 0);
        Assert.Equal(2, rollout.Turns.Count);
        Assert.StartsWith("Provide a Python solution for the following competitive programming question: Read two integers", rollout.Conversation[0].Content);
        Assert.Contains("- input `1 2\n` failed:\nExpected output `3\n` but got `-1\n`", rollout.Turns[0].Feedback);
        Assert.True(rollout.PassedAll);
        Assert.Equal("PP", rollout.PrivateVerdicts);
    }

    [Fact]
    public async Task ALeetCodeSolutionIsCalledWithParsedArgumentsUsingTheHarnessImports()
    {
        // `List` is not imported by the reply: LiveCodeBench's harness imports make it pass, and so must ours.
        const string Correct = "class Solution:\n    def tailAfter(self, nums: List[int], k: int) -> List[int]:\n        return tuple(nums[len(nums) - k:])";
        const string Crashes = "class Solution:\n    def tailAfter(self, nums: List[int], k: int) -> List[int]:\n        return nums[10]";
        var (problems, policy) = Setup(("3000", [Fence(Crashes), Fence(Correct)]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problems[1], 0);
        Assert.Equal(2, rollout.Turns.Count);
        string feedback = rollout.Turns[0].Feedback!;
        Assert.StartsWith("Your code failed the following tests:\n\n- input `[4, 5, 6]\n1` failed:\n", feedback);
        Assert.Contains("IndexError: list index out of range", feedback);
        // The reply's line 3 (not 4: the harness imports are one line in front of it).
        Assert.Contains("File \"solution.py\", line 3, in tailAfter", feedback);
        Assert.True(rollout.PassedAll);
        Assert.Equal("PP", rollout.PrivateVerdicts);
    }

    [Fact]
    public async Task AWrongReturnValueIsAWrongAnswerShowingBothValues()
    {
        const string Wrong = "class Solution:\n    def tailAfter(self, nums, k):\n        return nums[:k]";
        var (problems, policy) = Setup(("3000", [Fence(Wrong), Fence(Wrong)]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 2 }).RunAsync(problems[1], 0);
        Assert.Contains("Expected output `[6]` but got `[4]`", rollout.Turns[0].Feedback);
        Assert.False(rollout.PassedAll);
    }
}
