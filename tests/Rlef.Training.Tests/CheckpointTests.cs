using System.Diagnostics;
using System.Text.Json;
using Rlef.Training.Runs;
using Xunit.Abstractions;

namespace Rlef.Training.Tests;

public sealed class CheckpointTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static CheckpointFile Bytes(string name, byte[] content) => new(name, s => s.Write(content));

    [Fact]
    public void Save_and_load_round_trip_the_state_and_the_named_files()
    {
        var store = new CheckpointStore(Path.Combine(_dir, "checkpoints"), keepLast: 3);
        var rng = new Xoshiro256(9);
        rng.NextUInt64();
        var state = new TrainerState
        {
            Step = 120,
            Iteration = 30,
            Data = new DataPosition(2, 17),
            Rngs = { ["minibatches"] = rng.GetState(), ["sampling"] = [1, 2, 3, ulong.MaxValue] },
            Counters = { ["tokens"] = 1.5e9 },
            Best = new BestValidation(100, 0.25, "valid/solve_rate"),
        };
        store.Save(state, [Bytes("policy.safetensors", [1, 2, 3]), Bytes("adamw.bin", [4])]);

        Checkpoint latest = store.Latest()!;
        Assert.EndsWith("step-00000120", latest.Directory);
        Assert.Equal(state.Step, latest.State.Step);
        Assert.Equal(state.Data, latest.State.Data);
        Assert.Equal(state.Best, latest.State.Best);
        Assert.Equal(1.5e9, latest.State.Counters["tokens"]);
        Assert.Equal([1UL, 2, 3, ulong.MaxValue], latest.State.Rngs["sampling"]);
        Assert.Equal(rng.NextUInt64(), latest.State.RestoreRng("minibatches").NextUInt64());
        using (var stream = latest.Open("policy.safetensors"))
        {
            var content = new byte[3];
            stream.ReadExactly(content);
            Assert.Equal([1, 2, 3], content);
        }
        Assert.Contains("has no file 'missing'", Assert.Throws<FileNotFoundException>(() => latest.Open("missing")).Message);
        Assert.Contains("no random stream 'other'", Assert.Throws<InvalidDataException>(() => latest.State.RestoreRng("other")).Message);
        Assert.Throws<ArgumentException>(() => store.Save(state with { Step = 121 }, [Bytes("state.json", [])]));
        Assert.Throws<ArgumentException>(() => store.Save(state with { Step = 122 }, [Bytes("../x", [])]));
    }

    [Fact]
    public void Keeps_the_last_k_and_the_best_and_cleans_half_written_ones()
    {
        string dir = Path.Combine(_dir, "checkpoints");
        var store = new CheckpointStore(dir, keepLast: 2);
        var state = new TrainerState { Step = 0 };
        for (long step = 1; step <= 6; step++)
        {
            state = state with { Step = step };
            if (step is 2 or 4) state = state.WithValidation("score", step == 2 ? 0.9 : 0.5, out _);
            store.Save(state, [Bytes("w", [(byte)step])]);
        }
        Assert.Equal([2L, 5, 6], store.List().Select(c => c.State.Step));
        Assert.Equal(2, store.Best()!.State.Step);

        Directory.CreateDirectory(Path.Combine(dir, ".tmp-step-00000007-abc"));
        File.WriteAllText(Path.Combine(dir, ".tmp-step-00000007-abc", "w"), "partial");
        Directory.CreateDirectory(Path.Combine(dir, "step-00000008")); // no state.json: incomplete, ignored
        var reopened = new CheckpointStore(dir, keepLast: 2);
        Assert.False(Directory.Exists(Path.Combine(dir, ".tmp-step-00000007-abc")));
        Assert.Equal(6, reopened.Latest()!.State.Step);
    }

    [Fact]
    public void Validation_keeps_the_best_score_and_its_step()
    {
        var state = new TrainerState { Step = 800 };
        state = state.WithValidation("solve_rate", 0.1, out bool first);
        Assert.True(first);
        state = (state with { Step = 1600 }).WithValidation("solve_rate", 0.05, out bool worse);
        Assert.False(worse);
        Assert.Equal(new BestValidation(800, 0.1, "solve_rate"), state.Best);
        state = (state with { Step = 2400 }).WithValidation("solve_rate", 0.2, out bool better);
        Assert.True(better);
        Assert.Equal(2400, state.Best!.Step);
        Assert.Throws<ArgumentException>(() => state.WithValidation("other", 1, out _));
    }

    [Fact]
    public void Run_directory_refuses_to_overwrite_a_run()
    {
        string runDir = Path.Combine(_dir, "run");
        using (RunDirectory.Create(runDir, FakeRun.Config(3))) { }
        Assert.Throws<IOException>(() => RunDirectory.Create(runDir, FakeRun.Config(3)));
        Assert.Throws<FileNotFoundException>(() => RunDirectory.Resume(Path.Combine(_dir, "nothing")));
    }

    // Stop after step 10 (a checkpoint was written at 9: steps 10.. are redone from its state), and after step 2,
    // before the first checkpoint (the run starts over, its logged steps are dropped).
    [Theory]
    [InlineData(10)]
    [InlineData(2)]
    public void Resumed_in_process_run_equals_an_uninterrupted_one(int stopAfter)
    {
        const int steps = 20;
        string reference = Path.Combine(_dir, "reference");
        FakeRun.Run(reference, steps);

        string interrupted = Path.Combine(_dir, "interrupted");
        Assert.Throws<OperationCanceledException>(() => FakeRun.Run(interrupted, steps, step =>
        {
            if (step == stopAfter) throw new OperationCanceledException();
        }));
        FakeRun.Run(interrupted, steps);
        AssertSameRun(reference, interrupted);
    }

    [Fact]
    public void Killed_child_process_resumes_to_the_same_result_bit_for_bit()
    {
        // The child sleeps 20 ms per step and is killed at a random step in the first half, leaving it well over
        // 300 ms of work: enough slack for a slow parent on a loaded machine to land the kill before the end.
        const int steps = 40;
        string reference = Path.Combine(_dir, "reference");
        FakeRun.Run(reference, steps);

        // On a badly overloaded machine the child might finish before the kill lands: then try again (a few times).
        string crashed = "";
        for (int attempt = 0; ; attempt++)
        {
            crashed = Path.Combine(_dir, $"crashed-{attempt}");
            int killAfter = new Random().Next(2, steps / 2);
            int lastSeen = RunChildAndKill(crashed, steps, killAfter);
            long resumedFrom = new CheckpointStore(Path.Combine(crashed, RunDirectory.CheckpointsDirectory), 2).Latest()?.State.Step ?? 0;
            output.WriteLine($"killed after step {lastSeen} (target {killAfter}); resuming from checkpoint at step {resumedFrom}");
            if (!File.Exists(Path.Combine(crashed, "final.bin"))) break;
            Assert.True(attempt < 2, "the child finished before it was killed, three times");
        }

        FakeRun.Run(crashed, steps);
        AssertSameRun(reference, crashed);
    }

    /// <summary>Starts the fake run in a child process and kills it (SIGKILL) once it reports step <paramref name="killAfter"/>.</summary>
    static int RunChildAndKill(string runDir, int steps, int killAfter)
    {
        string assembly = typeof(FakeRun).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { assembly, "fake-run", runDir, steps.ToString(), "20" }) start.ArgumentList.Add(arg);
        using Process child = Process.Start(start)!;
        int last = 0;
        string? line;
        while ((line = child.StandardOutput.ReadLine()) is not null)
        {
            last = int.Parse(line["step ".Length..]);
            if (last >= killAfter)
            {
                child.Kill(entireProcessTree: true);
                break;
            }
        }
        child.WaitForExit();
        if (line is null) throw new InvalidOperationException($"child exited before step {killAfter}: {child.StandardError.ReadToEnd()}");
        return last;
    }

    static void AssertSameRun(string expectedDir, string actualDir)
    {
        Assert.Equal(File.ReadAllBytes(Path.Combine(expectedDir, "final.bin")), File.ReadAllBytes(Path.Combine(actualDir, "final.bin")));
        Assert.Equal(MetricsWithoutTime(expectedDir), MetricsWithoutTime(actualDir));
        var expected = new CheckpointStore(Path.Combine(expectedDir, RunDirectory.CheckpointsDirectory), 2).List();
        var actual = new CheckpointStore(Path.Combine(actualDir, RunDirectory.CheckpointsDirectory), 2).List();
        Assert.Equal(expected.Select(c => c.State.Step), actual.Select(c => c.State.Step));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(expected[i].Directory, CheckpointStore.StateFileName)),
                File.ReadAllText(Path.Combine(actual[i].Directory, CheckpointStore.StateFileName)));
            Assert.Equal(File.ReadAllBytes(Path.Combine(expected[i].Directory, "weights.bin")),
                File.ReadAllBytes(Path.Combine(actual[i].Directory, "weights.bin")));
        }
    }

    static List<string> MetricsWithoutTime(string runDir) =>
        File.ReadAllLines(Path.Combine(runDir, MetricsLog.JsonlFileName)).Select(line =>
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            return string.Join(",", doc.RootElement.EnumerateObject().Where(p => p.Name != "wall_time").Select(p => $"{p.Name}={p.Value.GetRawText()}"));
        }).ToList();
}
