using System.Text.Json;
using Rlef.Cli.Commands;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Sft;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>
/// The paper's baselines end to end on generated problems (docs/protocol.md §3.12): SFT data sampled at a temperature
/// drawn per reply, `rlef sft` with the paper's recipe, the few-shot prompt and a separate repair model in `rlef eval`.
/// </summary>
[Collection("sandbox")]
public sealed class PaperBaselineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-baselines-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string MiniModel = Path.Combine(RepoPaths.Root, "models", "mini");

    private static IAnsiConsole QuietConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });

    private async Task<string> GenerateAsync()
    {
        string data = Path.Combine(_dir, "data");
        var generated = await CliRunner.RunAsync("mini", "generate", "--out", data, "--train", "24", "--valid", "6", "--test", "6", "--seed", "5", "--difficulty", "easy");
        Assert.True(generated.ExitCode == 0, generated.Stderr);
        return data;
    }

    private static EvalCommand.Settings Eval(string data, string policy, string output) => new()
    {
        Dataset = ProblemFamily.CodeContests,
        DataPath = data,
        Policy = policy,
        OutputDirectory = output,
        Rollouts = 1,
        TurnLimit = 3,
        MaxTokens = 192,
        SandboxWorkers = 2,
        NAtK = [new(1, 3)],
        PassAtK = [1],
    };

    /// <summary>Mean negative log-likelihood of <paramref name="examples"/>' targets under the config's policy.</summary>
    private static double Loss(RlefConfig config, IReadOnlyList<SftExample> examples)
    {
        var model = RunSetup.LoadPolicy(config).Model;
        double loss = SftTrainer.AccumulateGradients(model, examples, config.Engine.MicroBatchTokens).Loss;
        model.ZeroGrad();
        return loss;
    }

    [Fact]
    public async Task Sft_on_rollouts_sampled_at_per_reply_temperatures_lowers_the_loss_and_keeps_the_best_validation()
    {
        string data = await GenerateAsync();
        // The paper's SFT data: rollouts of the policy on the training problems, each reply at a temperature from U(0.1, 1.0).
        var sample = Eval(Path.Combine(data, "train.jsonl"), $"model:{MiniModel}", Path.Combine(_dir, "sft-data")) with
        {
            Rollouts = 2,
            TemperatureRange = Rlef.Environment.Policies.TemperatureRange.Paper,
        };
        Assert.Equal(0, await EvalCommand.RunAsync(sample, QuietConsole(), CancellationToken.None));
        string rolloutsPath = Path.Combine(sample.OutputDirectory, EvaluationRun.RolloutsFile);
        var rollouts = RolloutStore.Read(rolloutsPath);
        var temperatures = rollouts.SelectMany(r => r.Turns).Select(t => t.Temperature).ToList();
        Assert.All(temperatures, t => Assert.InRange(t!.Value, 0.1, 1.0));
        Assert.True(temperatures.Distinct().Count() > temperatures.Count / 2, "each reply draws its own temperature");
        Assert.Contains("U(0.1, 1)", File.ReadAllText(Path.Combine(sample.OutputDirectory, EvaluationRun.SettingsFile)));
        Assert.Contains("\"temperature_per_reply\"", File.ReadAllText(Path.Combine(sample.OutputDirectory, "summary.json")));
        Assert.Contains(rollouts, r => r.PassedAll); // the shipped start solves some easy problems

        // `rlef sft` with the miniature's variant of the recipe, no validation: the final weights, lower loss.
        string config = Path.Combine(RepoPaths.Root, "configs", "sft-mini.yaml");
        string weights = Path.Combine(_dir, "sft.safetensors");
        var sft = await CliRunner.RunAsync("sft", "--config", config, "--rollouts", rolloutsPath, "--out", weights,
            $"model.directory={MiniModel}", "sft.eval_every=0", "sft.epochs=3", "sft.batch_size=8");
        Assert.True(sft.ExitCode == 0, sft.Stderr);
        Assert.Contains("final weights kept", sft.Stderr);
        RlefConfig start = ConfigLoader.Load(config, [$"model.directory={MiniModel}"]);
        var format = RunSetup.LoadPolicy(start).Format;
        var examples = SftTargetsOf(rollouts, format, start.Sft);
        double before = Loss(start, examples), after = Loss(start with { Model = start.Model with { InitWeights = weights } }, examples);
        Assert.True(after < before, $"SFT loss {before:F4} -> {after:F4}");

        // With data.valid: validations every 2 updates and at the end; the best is written as it is found.
        // Written as a model directory (the start's tokenizer beside the weights), so `rlef eval --policy model:DIR` reads it.
        string best = Path.Combine(_dir, "best");
        var validated = await CliRunner.RunAsync("sft", "--config", config, "--rollouts", rolloutsPath, "--out", best,
            $"model.directory={MiniModel}", $"data.valid={Path.Combine(data, "valid.jsonl")}", "data.valid_problems=4", "sft.eval_every=2", "sft.batch_size=8", "sft.epochs=1");
        Assert.True(validated.ExitCode == 0, validated.Stderr);
        Assert.Contains("update 2: valid solve rate", validated.Stderr);
        Assert.Contains("(best so far, written)", validated.Stderr);
        Assert.Matches(@"wrote .*best \(update \d+, valid solve rate", validated.Stderr);
        Assert.All(new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json" }, f => Assert.True(File.Exists(Path.Combine(best, f)), f));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir, "best.tmp"));
    }

    private static List<SftExample> SftTargetsOf(IEnumerable<Rollout> rollouts, IChatFormat format, SftConfig config) =>
        rollouts.Select(r => SftTargets.Build(RolloutTrajectories.From(r, format), config)).OfType<SftExample>().ToList();

    [Fact]
    public void The_paper_config_spells_out_the_defaults()
    {
        RlefConfig paper = ConfigLoader.Load(Path.Combine(RepoPaths.Root, "configs", "sft-paper.yaml"));
        Assert.Equal(new SftConfig(), paper.Sft);
    }

    [Fact]
    public async Task Eval_names_the_repair_model_and_the_few_shot_prompt_in_its_reports()
    {
        string data = await GenerateAsync();
        string test = Path.Combine(data, "test.jsonl");
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, test);
        string replay = Path.Combine(_dir, "wrong.jsonl");
        File.WriteAllLines(replay, problems.Select(p => JsonSerializer.Serialize(new { task_id = p.Id, replies = new[] { "```python\nprint(0)\n```" } })));

        // Turn 1 from a replay of a wrong program, turns 2+ from the reference solutions: solved on turn 2.
        var repair = Eval(test, $"replay:{replay}", Path.Combine(_dir, "repair")) with { RepairPolicy = "canonical" };
        Assert.Equal(0, await EvalCommand.RunAsync(repair, QuietConsole(), CancellationToken.None));
        var rollouts = RolloutStore.Read(Path.Combine(repair.OutputDirectory, EvaluationRun.RolloutsFile));
        Assert.All(rollouts, r => Assert.True(r.PassedAll && r.Turns.Count == 2));
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(repair.OutputDirectory, "summary.json"))))
            Assert.Equal("canonical", summary.RootElement.GetProperty("options").GetProperty("repair_policy").GetString());
        Assert.Contains("| repair policy (turns 2+) | canonical |", File.ReadAllText(Path.Combine(repair.OutputDirectory, "report.md")));

        // Few-shot: examples made from the dataset's incorrect and correct solutions, named in the reports.
        var fewShot = Eval(test, "canonical", Path.Combine(_dir, "few-shot")) with { FewShot = 2 };
        Assert.Equal(0, await EvalCommand.RunAsync(fewShot, QuietConsole(), CancellationToken.None));
        string report = File.ReadAllText(Path.Combine(fewShot.OutputDirectory, "report.md"));
        Assert.Contains("| few-shot prompt | 2 solved example episodes per problem", report);
        Assert.Contains("few-shot 2", File.ReadAllText(Path.Combine(fewShot.OutputDirectory, EvaluationRun.SettingsFile)));
        // A rerun with another K is another run.
        await Assert.ThrowsAsync<InvalidOperationException>(() => EvalCommand.RunAsync(fewShot with { FewShot = 1 }, QuietConsole(), CancellationToken.None));
    }
}
