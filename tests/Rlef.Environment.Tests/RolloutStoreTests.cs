using Rlef.Environment.Policies;
using Rlef.Environment.Rollouts;

namespace Rlef.Environment.Tests;

public sealed class RolloutStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-store-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static Rollout Sample(string task, int index, bool passed, TurnOutcome outcome = TurnOutcome.WrongOutput, string code = "print(1)") => new()
    {
        TaskId = task,
        RolloutIndex = index,
        Dataset = "codecontests",
        TurnLimit = 1,
        FeedbackMode = "real",
        Conversation = [ChatMessage.User("q"), ChatMessage.Assistant("a")],
        Turns = [new TurnRecord { Index = 0, Prompt = "q", Reply = "a", Code = code, PublicOutcome = outcome, Reward = passed ? 1 : -1,
            PublicResults = [new TestRecord("wrong_answer", 12.5, "got 2")] }],
        PassedAll = passed,
        PrivateVerdicts = passed ? "PPP" : "",
        TotalReward = passed ? 1 : -1,
    };

    [Fact]
    public void RoundTripsAndRemembersFinishedRollouts()
    {
        string path = Path.Combine(_dir, "rollouts.jsonl");
        using (var store = new RolloutStore(path))
        {
            store.Append(Sample("a", 0, true, TurnOutcome.Passed));
            store.Append(Sample("b", 0, false));
            Assert.Throws<InvalidOperationException>(() => store.Append(Sample("a", 0, true)));
        }
        string text = File.ReadAllText(path);
        Assert.Contains("\"task_id\":\"a\"", text);
        Assert.Contains("\"public_outcome\":\"wrong_output\"", text);
        using var reopened = new RolloutStore(path);
        Assert.Equal(2, reopened.Existing.Count);
        Assert.True(reopened.IsDone("a", 0));
        Assert.False(reopened.IsDone("a", 1));
        Assert.Equal(Sample("b", 0, false).Turns[0].PublicResults, reopened.Existing[1].Turns[0].PublicResults);
        Assert.Null(reopened.RepairNote);
    }

    [Fact]
    public void FeedbackIsStoredReadablySoGrepFindsItByteForByte()
    {
        // A feedback line as the model sees it: backticks, single quotes, <>& and non-ASCII text.
        const string line = "Expected output `[1, 2]` but got `'Zonk' <b>&amp;</b> café`";
        string path = Path.Combine(_dir, "rollouts.jsonl");
        var rollout = Sample("a", 0, false);
        using (var store = new RolloutStore(path))
            store.Append(rollout with { Turns = [rollout.Turns[0] with { Feedback = "Feedback:\n" + line + "\n" }] });

        var grep = new System.Diagnostics.ProcessStartInfo("grep", ["-F", "-c", "--", line, path]) { RedirectStandardOutput = true };
        using var process = System.Diagnostics.Process.Start(grep)!;
        string count = process.StandardOutput.ReadToEnd().Trim();
        Assert.True(process.WaitForExit(10_000));
        Assert.Equal("1", count);
        // Still valid JSON that reads back to the same text; quotes are escaped only as JSON requires (\").
        using var reopened = new RolloutStore(path);
        Assert.Contains(line, reopened.Existing[0].Turns[0].Feedback);
        Assert.DoesNotContain("\\u00", File.ReadAllText(path));
    }

    [Fact]
    public void CutsATornLastLineAndKeepsAppending()
    {
        string path = Path.Combine(_dir, "rollouts.jsonl");
        using (var store = new RolloutStore(path))
            store.Append(Sample("a", 0, true));
        File.AppendAllText(path, "{\"task_id\":\"b\",\"rollout_ind");
        using (var store = new RolloutStore(path))
        {
            Assert.Single(store.Existing);
            Assert.Contains("incomplete last line", store.RepairNote);
            store.Append(Sample("b", 0, false));
        }
        Assert.Equal(2, RolloutStore.Read(path).Count);
    }

    [Fact]
    public void AMalformedLineInTheMiddleIsAnError()
    {
        string path = Path.Combine(_dir, "rollouts.jsonl");
        using (var store = new RolloutStore(path))
            store.Append(Sample("a", 0, true));
        File.AppendAllText(path, "garbage\n");
        using (var store = new RolloutStore(Path.Combine(_dir, "other.jsonl")))
            store.Append(Sample("c", 0, true));
        File.AppendAllText(path, File.ReadAllText(Path.Combine(_dir, "other.jsonl")));
        var e = Assert.Throws<InvalidDataException>(() => new RolloutStore(path));
        Assert.Contains(":2:", e.Message);
    }

    [Fact]
    public void PoolPicksFailedProgramsOfOtherProblemsReproducibly()
    {
        var pool = IncorrectProgramPool.FromRollouts([
            Sample("a", 0, false, code: "a1"), Sample("a", 1, true, TurnOutcome.Passed, "a-good"), Sample("b", 0, false, code: "b1"), Sample("c", 0, false, code: "c1")]);
        Assert.Equal(3, pool.Count);
        for (int turn = 0; turn < 20; turn++)
        {
            var pick = pool.Pick("a", 0, turn);
            Assert.NotNull(pick);
            Assert.NotEqual("a", pick.Value.TaskId);
            Assert.Equal(pick, pool.Pick("a", 0, turn));
        }
        Assert.Null(IncorrectProgramPool.FromRollouts([Sample("a", 0, false)]).Pick("a", 0, 0));

        // Rollouts are added in the order they finish: the same programs in another order give the same picks, and
        // different episodes do not all get the same program.
        var reversed = IncorrectProgramPool.FromRollouts([
            Sample("c", 0, false, code: "c1"), Sample("b", 0, false, code: "b1"), Sample("a", 1, true, TurnOutcome.Passed, "a-good"), Sample("a", 0, false, code: "a1")]);
        var picks = Enumerable.Range(0, 20).Select(turn => pool.Pick("a", 0, turn)).ToList();
        Assert.Equal(picks, Enumerable.Range(0, 20).Select(turn => reversed.Pick("a", 0, turn)));
        Assert.Equal(2, picks.Select(p => p!.Value.TaskId).Distinct().Count());
    }
}
