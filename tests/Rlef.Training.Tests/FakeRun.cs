using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Training.Tests;

/// <summary>
/// A deterministic loop with the trainer's run machinery (run directory, data order, minibatch shuffles, RNG,
/// metrics, validation, checkpoints with an opaque state file, resume) around a pure-arithmetic "update" on eight
/// doubles. It exists to test that machinery: an interrupted and resumed run must equal an uninterrupted one bit
/// for bit.
/// </summary>
public static class FakeRun
{
    public const int Problems = 13;
    const int ProblemsPerStep = 6;
    const string StateFile = "weights.bin";

    public static RlefConfig Config(int totalSteps) => new()
    {
        Schedule = new ScheduleConfig { Seed = 42, TotalUpdates = totalSteps, CheckpointEvery = 3, EvalEvery = 4, KeepLastCheckpoints = 2 },
    };

    /// <summary>Runs (or resumes) the loop in <paramref name="runDir"/> to the configured number of steps.</summary>
    public static void Run(string runDir, int totalSteps, Action<long>? afterStep = null)
    {
        using RunDirectory run = File.Exists(Path.Combine(runDir, RunDirectory.ConfigFileName))
            ? RunDirectory.Resume(runDir)
            : RunDirectory.Create(runDir, Config(totalSteps));
        ulong seed = run.Config.Schedule.Seed;

        TrainerState state;
        double[] weights = new double[8];
        if (run.ResumedFrom is { } checkpoint)
        {
            state = checkpoint.State;
            using var reader = new BinaryReader(checkpoint.Open(StateFile));
            for (int i = 0; i < weights.Length; i++) weights[i] = reader.ReadDouble();
        }
        else
        {
            state = new TrainerState { Step = 0, Rngs = { ["minibatches"] = Xoshiro256.ForStream(seed, 1).GetState() } };
            for (int i = 0; i < weights.Length; i++) weights[i] = i * 0.125;
        }
        var data = new DataOrder(Problems, seed, state.Data);
        Xoshiro256 rng = state.RestoreRng("minibatches");

        for (long step = state.Step + 1; step <= run.Config.Schedule.TotalUpdates; step++)
        {
            int[] problems = data.Take(ProblemsPerStep);
            foreach (int[] minibatch in Minibatches.Split(ProblemsPerStep, 2, rng))
                foreach (int i in minibatch)
                {
                    int slot = problems[i] % weights.Length;
                    weights[slot] = 0.9 * weights[slot] + Math.Sin(problems[i] + rng.NextDouble()) + 0.01 * step;
                }
            state = state with
            {
                Step = step,
                Data = data.Position,
                Rngs = new Dictionary<string, ulong[]> { ["minibatches"] = rng.GetState() },
                Counters = new Dictionary<string, double> { ["problems_seen"] = step * ProblemsPerStep },
            };
            run.Metrics.Write(step, [new("checksum", weights.Sum()), new("first_problem", problems[0])]);

            if (step % run.Config.Schedule.EvalEvery == 0)
                state = state.WithValidation("score", -Math.Abs(weights[0] - 1.0), out _);
            if (step % run.Config.Schedule.CheckpointEvery == 0 || step % run.Config.Schedule.EvalEvery == 0)
            {
                double[] snapshot = (double[])weights.Clone();
                run.Checkpoints.Save(state, [new CheckpointFile(StateFile, s =>
                {
                    using var writer = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true);
                    foreach (double w in snapshot) writer.Write(w);
                })]);
            }
            afterStep?.Invoke(step);
        }
        File.WriteAllBytes(Path.Combine(runDir, "final.bin"), weights.SelectMany(BitConverter.GetBytes).ToArray());
    }
}
