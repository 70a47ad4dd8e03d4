using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;
using Rlef.Tests;

namespace Rlef.Environment.Tests;

/// <summary>Episodes with real programs in the real sandbox; replies come from a replay file.</summary>
[Collection("sandbox")]
public sealed class EpisodeTests(SandboxFixture sandbox) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-episode-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ReplayPolicy Replay(params (string Task, string[] Replies)[] tasks)
    {
        string path = Path.Combine(_dir, $"replay-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, tasks.Select(t => System.Text.Json.JsonSerializer.Serialize(new { task_id = t.Task, replies = t.Replies })));
        return new ReplayPolicy(path);
    }

    private static string Fence(string code) => "```python\n" + code + "\n```";

    /// <summary>One of the paper's printed examples (docs/protocol/examples).</summary>
    private static string Example(string name) => File.ReadAllText(Path.Combine(RepoPaths.Protocol, "examples", name));

    private static Problem Stdio(string id, (string In, string Out)[] publicTests, (string In, string Out)[]? privateTests = null, double seconds = 10) => new()
    {
        Id = id,
        Family = ProblemFamily.CodeContests,
        Statement = "statement of " + id,
        PublicTests = publicTests.Select(t => new ProblemTest(TestCase.Stdio(t.In, t.Out), t.In)).ToList(),
        PrivateTests = (privateTests ?? []).Select(t => new ProblemTest(TestCase.Stdio(t.In, t.Out), t.In)).ToList(),
        Limits = new ExecutionLimits { CpuTimeSeconds = seconds, WallTimeSeconds = seconds },
    };

    private const string AdditionCode = "for _ in range(int(input())):\n    a, b = map(int, input().split())\n    print(a + b)";

    [Fact]
    public async Task PaperExample1IsReproducedByRunningThePrintedPrograms()
    {
        string turn1 = Example("example1_turn1_feedback.txt"), turn2 = Example("example1_turn2_feedback.txt"), response = Example("example1_turn1_response.txt");
        var problem = Stdio("example1", [(TemplateAndFeedbackTests.Example1Input, TemplateAndFeedbackTests.Example1Expected)], seconds: 1);
        // Turn 1 is the paper's printed response; turn 2 a program that is too slow (the paper's timed out).
        string slow = Fence("t = int(input())\nwhile True:\n    pass");
        var policy = Replay(("example1", [response, slow, slow]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 3 }).RunAsync(problem, 0);
        Assert.Equal(turn1, rollout.Turns[0].Feedback);
        Assert.Equal(TurnOutcome.WrongOutput, rollout.Turns[0].PublicOutcome);
        Assert.Equal(turn2, rollout.Conversation[4].Content);
        Assert.Equal(TurnOutcome.Timeout, rollout.Turns[1].PublicOutcome);
    }

    [Fact]
    public async Task PaperExample2IsReproducedByRunningAProgram()
    {
        string expected = Example("example2_turn1_feedback.txt");
        var problem = Stdio("example2", [("4\n6 2 7 3\n", "0 2 12 22\n"), ("1\n9\n", "0\n"), ("3\n3 2 1\n", "0 3 5\n")]);
        // A wrong solution that prints with end=' ' and no newline, as the paper's did; it is right on the middle test.
        string code = "n = int(input())\na = list(map(int, input().split()))\nacc = 0\nfor i in range(n):\n    acc += i * a[i - 1] if i else 0\n" +
                      "    print({(4, 1): 2, (4, 2): 14, (4, 3): 36, (3, 1): 3, (3, 2): 8}.get((n, i), acc), end=' ' if n > 1 else '\\n')";
        var policy = Replay(("example2", [Fence(code), Fence(code)]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 2 }).RunAsync(problem, 0);
        Assert.Equal(expected, rollout.Turns[0].Feedback);
    }

    [Fact]
    public async Task InvalidReplyGetsTheParseMessageAndPenaltyThenACorrectReplyEndsTheEpisode()
    {
        var problem = Stdio("add", [("2\n1 2\n3 4\n", "3\n7\n")], [("1\n10 20\n", "30\n")]);
        var policy = Replay(("add", ["I think the answer is to add.", Fence(AdditionCode), "never asked"]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problem, 0);
        Assert.Equal(2, rollout.Turns.Count);
        Assert.Equal(Templates.InvalidCodeReply, rollout.Turns[0].Feedback);
        Assert.Equal(TurnOutcome.InvalidCode, rollout.Turns[0].PublicOutcome);
        Assert.Equal(-0.2, rollout.Turns[0].Reward);
        Assert.Equal(1, rollout.Turns[1].Reward);
        Assert.Equal(0.8, rollout.TotalReward, 9);
        Assert.True(rollout.PassedAll);
        Assert.Equal("P", rollout.PrivateVerdicts);
        Assert.Equal(["user", "assistant", "user", "assistant"], rollout.Conversation.Select(m => m.Role));
        Assert.Equal(Templates.InitialPrompt(problem), rollout.Conversation[0].Content);
    }

    [Fact]
    public async Task PassingPublicButFailingPrivateEndsAfterOneTurnWithMinusOne()
    {
        var problem = Stdio("add", [("1\n1 2\n", "3\n")], [("1\n10 20\n", "30\n"), ("1\n0 0\n", "0\n")]);
        var policy = Replay(("add", [Fence("input()\nprint(3)")]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problem, 0);
        var turn = Assert.Single(rollout.Turns);
        Assert.Equal(TurnOutcome.Passed, turn.PublicOutcome);
        Assert.False(rollout.PassedAll);
        Assert.Equal("WW", rollout.PrivateVerdicts);
        Assert.Equal(-1, rollout.TotalReward);
        Assert.Null(turn.Feedback);
    }

    [Fact]
    public async Task TheTurnLimitEndsAFailingEpisodeAndTheFinalTurnHasNoPenalty()
    {
        var problem = Stdio("add", [("1\n1 2\n", "3\n")]);
        var policy = Replay(("add", [Fence("print(0)"), Fence("print(1/0)"), "no code"]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 3 }).RunAsync(problem, 0);
        Assert.Equal(3, rollout.Turns.Count);
        Assert.Equal([TurnOutcome.WrongOutput, TurnOutcome.Exception, TurnOutcome.InvalidCode], rollout.Turns.Select(t => t.PublicOutcome));
        Assert.Contains("ZeroDivisionError: division by zero", rollout.Turns[1].Feedback);
        Assert.Contains("solution.py", rollout.Turns[1].Feedback);
        Assert.Equal([0, 0, -1], rollout.Turns.Select(t => t.Reward));
        Assert.Null(rollout.Turns[2].Feedback);
        Assert.Equal(6, rollout.Conversation.Count);

        var single = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 1 }).RunAsync(problem, 1);
        Assert.Single(single.Turns);
        Assert.Equal(-1, single.TotalReward);
    }

    [Fact]
    public async Task WithoutFeedbackTheEpisodeRunsToTheLimitAndOnlyAsksAgain()
    {
        var problem = Stdio("add", [("2\n1 2\n3 4\n", "3\n7\n")]);
        var policy = Replay(("add", [Fence(AdditionCode), Fence("print(5)"), Fence(AdditionCode)]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { Feedback = FeedbackMode.None }).RunAsync(problem, 0);
        Assert.Equal(3, rollout.Turns.Count);
        Assert.Equal("Give it another try.\n" + Templates.FormatLine, rollout.Turns[0].Feedback);
        Assert.Equal(rollout.Turns[0].Feedback, rollout.Turns[1].Feedback);
        Assert.True(rollout.PassedAll);
    }

    [Fact]
    public async Task RandomFeedbackRunsAnotherProblemsIncorrectProgramOnThisProblemsTests()
    {
        var problem = Stdio("add", [("1\n1 2\n", "3\n")]);
        var pool = IncorrectProgramPool.FromRollouts([RolloutStoreTests.Sample("other", 0, false, code: "print('from the other problem')")]);
        var policy = Replay(("add", [Fence("print(0)"), Fence("print(0)")]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions { TurnLimit = 2, Feedback = FeedbackMode.Random }, pool).RunAsync(problem, 0);
        Assert.Equal("other", rollout.Turns[0].FeedbackFrom);
        Assert.Contains("but got `from the other problem\n`", rollout.Turns[0].Feedback);
        Assert.DoesNotContain("but got `0", rollout.Turns[0].Feedback);
    }

    [Fact]
    public async Task FunctionFeedbackShowsRunTimeValuesOfRewrittenAsserts()
    {
        string path = Path.Combine(_dir, "he.jsonl");
        File.WriteAllText(path,
            """{"task_id": "T/0", "prompt": "def add(a, b):\n    \"\"\"Add.\"\"\"\n", "entry_point": "add", "canonical_solution": "    return a + b\n", "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n    assert abs(candidate(0.1, 0.2) - 0.3) < 1e-9\n"}""" + "\n");
        var problem = FunctionBenchmarkLoader.LoadHumanEval(path, plus: false).Single();
        var policy = Replay(("T/0", [problem.AssistantPrefix + "    return a * b\n```", problem.AssistantPrefix + "    return a + b\n```"]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problem, 0);
        Assert.Equal(
            "Your code failed some test cases:\n\n- Failure: `assert add(1, 2) == 3`:\n`AssertionError: 2 != 3`\n- Success: `assert add(2, 2) == 4`\n" +
            "- Failure: `assert abs(add(0.1, 0.2) - 0.3) < 1e-9`:\n`AssertionError: 0.27999999999999997 not less than 1e-09`\n\nGive it another try.",
            rollout.Turns[0].Feedback);
        Assert.True(rollout.PassedAll);
        Assert.Equal(2, rollout.Turns.Count);
    }

    [DataFact("apps/APPS_selected150_mapcoder.jsonl")]
    public async Task CallBasedAppsProblemsRunThroughTheDriver()
    {
        string path = RepoPaths.RequireData("apps/APPS_selected150_mapcoder.jsonl");
        var problem = AppsLoader.Load(path).Single(p => p.Id == "APPS/3554");
        // A correct Zonk scorer written for this test.
        string code = """
            from collections import Counter
            def get_score(dice):
                c = Counter(dice)
                if len(dice) == 6 and len(c) == 6:
                    return 1000
                if len(dice) == 6 and len(c) == 3 and all(v == 2 for v in c.values()):
                    return 750
                score = 0
                for face, n in c.items():
                    base = 1000 if face == 1 else face * 100
                    if n >= 3:
                        score += base * (n - 2)
                    elif face == 1:
                        score += 100 * n
                    elif face == 5:
                        score += 50 * n
                return score or "Zonk"
            """;
        var policy = Replay(("APPS/3554", [Fence(code)]));
        var rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problem, 0);
        Assert.Equal(TurnOutcome.Passed, rollout.Turns[0].PublicOutcome);
        Assert.True(rollout.PassedAll, string.Join("\n", rollout.PrivateFailures.Select(f => f.Message)));

        var wrong = Replay(("APPS/3554", [Fence("def get_score(dice):\n    return 'Zonk'"), Fence("def get_score(dice):\n    return 'Zonk'")]));
        var failed = await new Episode(sandbox.Pool, wrong, new EpisodeOptions { TurnLimit = 2 }).RunAsync(problem, 0);
        Assert.Contains("- input `[1, 2, 3]` failed:\nExpected output `100` but got `'Zonk'\n`", failed.Turns[0].Feedback);
        Assert.False(failed.PassedAll);
    }
}
