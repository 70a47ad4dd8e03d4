using System.Text.Json;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;
using Rlef.Tests;

namespace Rlef.Environment.Tests;

/// <summary>
/// The paper's baselines at the policy level (docs/protocol.md §3.12): per-reply temperatures for SFT data, few-shot
/// prompts, and a separate repair model; episodes run in the real sandbox.
/// </summary>
[Collection("sandbox")]
public sealed class BaselinePolicyTests(SandboxFixture sandbox) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-baselines-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fence(string code) => "```python\n" + code + "\n```";

    private const string Sum = "a, b = map(int, input().split())\nprint(a + b)";

    private static Problem Addition(string id, string? canonical = null, IReadOnlyList<string>? incorrect = null, IReadOnlyList<string>? solutions = null) => new()
    {
        Id = id,
        Family = ProblemFamily.CodeContests,
        Statement = "Print the sum of two integers (" + id + ").",
        PublicTests = [new ProblemTest(TestCase.Stdio("1 2\n", "3\n"), "1 2\n")],
        PrivateTests = [new ProblemTest(TestCase.Stdio("10 20\n", "30\n"), "10 20\n")],
        CanonicalSolution = canonical,
        IncorrectSolutions = incorrect ?? [],
        Solutions = solutions ?? [],
    };

    /// <summary>Records what it was asked and answers with a fixed reply.</summary>
    private sealed class Recording(string reply, double? temperature = null) : IPolicy
    {
        public List<(Conversation Conversation, PolicyContext Context)> Calls { get; } = [];
        public string Describe() => "recording";
        public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
        {
            lock (Calls) Calls.Add((conversation, context));
            return Task.FromResult(new PolicyReply(reply, Temperature: temperature));
        }
    }

    [Fact]
    public void Per_reply_temperatures_lie_in_the_range_and_depend_only_on_the_reply()
    {
        var range = TemperatureRange.Parse("0.1,1.0", seed: 3);
        var draws = new List<double>();
        for (int task = 0; task < 50; task++)
            for (int turn = 0; turn < 3; turn++)
                draws.Add(range.Draw(new PolicyContext($"task-{task}", 0, turn, 3)));
        Assert.All(draws, t => Assert.InRange(t, 0.1, 1.0));
        // Spread over the range (150 uniform draws: the chance that none falls below 0.3 or above 0.8 is ~1e-16).
        Assert.True(draws.Min() < 0.3 && draws.Max() > 0.8, $"draws from {draws.Min()} to {draws.Max()}");
        Assert.True(draws.Distinct().Count() > 140);
        // A function of (seed, task, rollout, turn): the same reply draws the same temperature, another seed another.
        var context = new PolicyContext("task-7", 2, 1, 3);
        Assert.Equal(range.Draw(context), TemperatureRange.Parse("0.1,1.0", seed: 3).Draw(context));
        Assert.NotEqual(range.Draw(context), TemperatureRange.Parse("0.1,1.0", seed: 4).Draw(context));
        Assert.Throws<FormatException>(() => TemperatureRange.Parse("1.0,0.1"));
        Assert.Throws<FormatException>(() => TemperatureRange.Parse("0,1"));
        Assert.Throws<FormatException>(() => TemperatureRange.Parse("0.5"));
    }

    [Fact]
    public async Task A_reply_temperature_is_recorded_in_its_turn_and_survives_the_rollout_file()
    {
        var policy = new Recording(Fence(Sum), temperature: 0.37);
        Rollout rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(Addition("p"), 0);
        Assert.Equal(0.37, rollout.Turns[0].Temperature);
        string path = Path.Combine(_dir, "rollouts.jsonl");
        using (var store = new RolloutStore(path)) store.Append(rollout);
        Assert.Equal(0.37, RolloutStore.Read(path)[0].Turns[0].Temperature);
        // Without a drawn temperature the field is absent, so the files of ordinary runs do not change.
        Rollout plain = await new Episode(sandbox.Pool, new Recording(Fence(Sum)), new EpisodeOptions()).RunAsync(Addition("p"), 0);
        Assert.DoesNotContain("temperature", JsonSerializer.Serialize(plain.Turns[0], RolloutStore.Json));
    }

    private static FewShotExample Example(string task) => new(task,
    [
        ChatMessage.User("prompt " + task), ChatMessage.Assistant("wrong " + task),
        ChatMessage.User("feedback " + task), ChatMessage.Assistant("right " + task),
    ]);

    [Fact]
    public async Task Few_shot_examples_precede_the_conversation_are_seeded_and_never_the_evaluated_problem()
    {
        var pool = new[] { "a", "b", "c", "d", "e" }.Select(Example).ToList();
        var inner = new Recording(Fence(Sum));
        var policy = new FewShotPolicy(inner, pool, k: 2, seed: 1, source: "test");
        foreach (string task in new[] { "a", "b", "c", "d", "e", "z" })
        {
            var chosen = policy.ExamplesFor(task);
            Assert.Equal(2, chosen.Count);
            Assert.DoesNotContain(chosen, e => e.TaskId == task);
            Assert.Equal(2, chosen.Select(e => e.TaskId).Distinct().Count());
            Assert.Equal(chosen, new FewShotPolicy(inner, pool, 2, 1, "test").ExamplesFor(task)); // deterministic
        }
        // The seed changes the choice for some problem (not necessarily for each).
        var other = new FewShotPolicy(inner, pool, 2, seed: 2, "test");
        Assert.Contains(new[] { "a", "b", "c", "d", "e", "z" }, t => !policy.ExamplesFor(t).SequenceEqual(other.ExamplesFor(t)));

        Rollout rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(Addition("a"), 0);
        Assert.True(rollout.PassedAll);
        var (conversation, _) = Assert.Single(inner.Calls);
        var examples = policy.ExamplesFor("a");
        Assert.Equal(examples.SelectMany(e => e.Messages).Concat([ChatMessage.User(Templates.InitialPrompt(Addition("a")))]), conversation.Messages);
        // The rollout keeps the episode's own conversation, not the examples.
        Assert.Equal(2, rollout.Conversation.Count);

        Assert.Throws<ArgumentException>(() => new FewShotPolicy(inner, pool.Take(2).ToList(), k: 2, seed: 1, "small")); // k + 1 problems needed
        Assert.Throws<ArgumentException>(() => new FewShotPolicy(inner, [new FewShotExample("x", [ChatMessage.User("only a prompt")]), Example("y"), Example("w")], 1, 1, "bad"));
    }

    [Fact]
    public async Task Few_shot_examples_from_the_dataset_show_real_feedback_between_an_incorrect_and_a_correct_program()
    {
        var problems = new List<Problem>
        {
            Addition("p1", incorrect: ["a, b = map(int, input().split())\nprint(a - b)"], solutions: [Sum]),
            Addition("p2", incorrect: ["print(int(input().split()[0]) * 5)"], solutions: [Sum]),
            // The "incorrect" program passes the public test (it is only wrong on the private one): no failure to show.
            Addition("p3", incorrect: ["print(3)"], solutions: [Sum]),
            Addition("p4"), // nothing to build from
        };
        var examples = await FewShotExamples.FromDatasetAsync(problems, sandbox.Pool, count: 2, seed: 1);
        Assert.Equal(["p1", "p2"], examples.Select(e => e.TaskId).Order());
        foreach (FewShotExample e in examples)
        {
            Assert.Equal(4, e.Messages.Count);
            Assert.Equal(Templates.InitialPrompt(problems.Single(p => p.Id == e.TaskId)), e.Messages[0].Content);
            Assert.Contains("failed", e.Messages[2].Content, StringComparison.OrdinalIgnoreCase); // the sandbox's feedback
            Assert.Equal(Fence(Sum), e.Messages[3].Content);
        }
        await Assert.ThrowsAsync<InvalidDataException>(() => FewShotExamples.FromDatasetAsync(problems, sandbox.Pool, count: 3, seed: 1));

        // From an earlier run: solved rollouts of two or more turns only.
        string path = Path.Combine(_dir, "examples.jsonl");
        using (var store = new RolloutStore(path))
        {
            var twoTurns = new ReplayPolicy(WriteReplay(("p1", [Fence("print(0)"), Fence(Sum)]), ("p2", [Fence(Sum)])));
            var episode = new Episode(sandbox.Pool, twoTurns, new EpisodeOptions());
            store.Append(await episode.RunAsync(problems[0], 0));
            store.Append(await episode.RunAsync(problems[1], 0));
        }
        Assert.Equal(["p1"], FewShotExamples.FromRollouts(path).Select(e => e.TaskId));
    }

    private string WriteReplay(params (string Task, string[] Replies)[] tasks)
    {
        string path = Path.Combine(_dir, $"replay-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(path, tasks.Select(t => JsonSerializer.Serialize(new { task_id = t.Task, replies = t.Replies })));
        return path;
    }

    [Fact]
    public async Task A_separate_repair_model_answers_every_turn_after_the_first()
    {
        // Turn 1 from a replay of a wrong program, turns 2+ from the canonical policy (the reference solution).
        var first = new ReplayPolicy(WriteReplay(("p", [Fence("print(0)")])));
        var problem = Addition("p", canonical: Sum);
        var policy = new RepairPolicy(first, new CanonicalPolicy([problem]));
        Rollout rollout = await new Episode(sandbox.Pool, policy, new EpisodeOptions()).RunAsync(problem, 0);
        Assert.Equal(2, rollout.Turns.Count);
        Assert.Equal(TurnOutcome.WrongOutput, rollout.Turns[0].PublicOutcome);
        Assert.Equal(Fence(Sum), rollout.Turns[1].Reply);
        Assert.True(rollout.PassedAll);
        Assert.Contains("repair: canonical", policy.Describe());

        // The repair model counts its own turns from its first: the episode's turn 2 is its turn 1.
        var a = new Recording(Fence("print(0)"));
        var b = new Recording(Fence("print(1)"));
        await new Episode(sandbox.Pool, new RepairPolicy(a, b), new EpisodeOptions { TurnLimit = 3 }).RunAsync(Addition("q"), 4);
        Assert.Equal([0], a.Calls.Select(c => c.Context.TurnIndex));
        Assert.Equal([0, 1], b.Calls.Select(c => c.Context.TurnIndex));
        Assert.All(b.Calls, c => Assert.Equal(2, c.Context.TurnLimit));
        Assert.Equal([3, 5], b.Calls.Select(c => c.Conversation.Messages.Count)); // it sees the whole conversation so far
    }
}
