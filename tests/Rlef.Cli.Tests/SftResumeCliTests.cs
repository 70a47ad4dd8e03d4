using System.Text.Json.Nodes;
using Rlef.Cli.Commands;
using Rlef.Environment.Problems;
using Rlef.Environment.Running;
using Rlef.Training.Runs;
using Rlef.Training.Sft;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>
/// `rlef sft --run DIR` / `rlef sft --resume DIR` end to end (docs/protocol.md §3.12): a run that lost its last
/// checkpoint (and logged an update past the one before) resumes from the command line with nothing but the directory
/// and ends with the weights and metrics of the run that never stopped; another config is refused in one line naming
/// the key.
/// </summary>
[Collection("sandbox")]
public sealed class SftResumeCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-sft-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string MiniModel = Path.Combine(RepoPaths.Root, "models", "mini");

    [Fact]
    public async Task A_run_resumed_from_the_command_line_ends_as_the_uninterrupted_run()
    {
        string data = Path.Combine(_dir, "data");
        var generated = await CliRunner.RunAsync("mini", "generate", "--out", data, "--train", "12", "--valid", "4", "--test", "4", "--seed", "5", "--difficulty", "easy");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        // Trajectories of the reference solutions: cheap, and every one is a success SFT keeps.
        var sample = new EvalCommand.Settings
        {
            Dataset = ProblemFamily.CodeContests, DataPath = Path.Combine(data, "train.jsonl"), Policy = "canonical",
            OutputDirectory = Path.Combine(_dir, "sft-data"), Rollouts = 1, TurnLimit = 1, MaxTokens = 192, SandboxWorkers = 2, NAtK = [new(1, 1)], PassAtK = [1],
        };
        var quiet = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });
        Assert.Equal(0, await EvalCommand.RunAsync(sample, quiet, CancellationToken.None));
        string rollouts = Path.Combine(sample.OutputDirectory, EvaluationRun.RolloutsFile);

        // 12 trajectories in batches of 4, 2 epochs: 6 updates, a checkpoint after each (the last 2 kept).
        string whole = Path.Combine(_dir, "whole");
        string config = Path.Combine(RepoPaths.Root, "configs", "sft-mini.yaml");
        var first = await CliRunner.RunAsync("sft", "--config", config, "--rollouts", rollouts, "--run", whole, "--batch", "4",
            $"model.directory={MiniModel}", "sft.eval_every=0", "schedule.checkpoint_every=1");
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("sft --resume", first.Stderr);
        Assert.Equal(6, File.ReadAllLines(Path.Combine(whole, MetricsLog.JsonlFileName)).Length);
        Checkpoint last = new CheckpointStore(Path.Combine(whole, RunDirectory.CheckpointsDirectory), 2).Latest()!;
        Assert.Equal(6, last.State.Step);

        // The same run as if it had died after logging update 6 but before its checkpoint.
        string crashed = Path.Combine(_dir, "crashed");
        CopyDirectory(whole, crashed);
        Directory.Delete(Path.Combine(crashed, RunDirectory.CheckpointsDirectory, "step-00000006"), recursive: true);

        var refused = await CliRunner.RunAsync("sft", "--resume", crashed, "sft.learning_rate=1e-5");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("sft.learning_rate is 1E-05 here but 0.0003", refused.Stderr);
        Assert.Single(refused.Stderr.Trim().Split('\n'));
        var again = await CliRunner.RunAsync("sft", "--config", config, "--rollouts", rollouts, "--run", whole, $"model.directory={MiniModel}");
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already holds a run", again.Stderr);

        string weights = Path.Combine(_dir, "resumed.safetensors");
        var resumed = await CliRunner.RunAsync("sft", "--resume", crashed, "--out", weights);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resuming", resumed.Stderr);
        Assert.Contains("from update 5 of 6", resumed.Stderr);
        Assert.Equal(File.ReadAllBytes(ModelFiles.PathOf(last, SftTrainer.PolicyFile)), File.ReadAllBytes(weights));
        Assert.Equal(WithoutWallTime(whole), WithoutWallTime(crashed));
    }

    private static string[] WithoutWallTime(string run) =>
        File.ReadAllLines(Path.Combine(run, MetricsLog.JsonlFileName)).Select(line =>
        {
            var record = JsonNode.Parse(line)!.AsObject();
            record.Remove("wall_time");
            return record.ToJsonString();
        }).ToArray();

    private static void CopyDirectory(string from, string to)
    {
        foreach (string dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to));
    }
}
