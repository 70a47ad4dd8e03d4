using System.CommandLine;
using Rlef.Cli.Training;
using Rlef.Mini.Synthetic;
using Rlef.Training.Config;
using Rlef.Mini;
using Rlef.Training.Runs;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef mini`: the paper in miniature on generated contest problems. `generate` writes the train/valid/test
/// splits in the CodeContests JSONL schema, so `rlef eval --dataset codecontests` and `rlef train` read them like
/// any dataset. Without a subcommand: the end-to-end run (<see cref="MiniRun"/>): data, RLEF from the shipped small
/// policy, evaluations of the starting and the trained policy, and the report.
/// </summary>
public static class MiniCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "full (configs/mini.yaml, the whole test split) or quick (configs/mini-quick.yaml, a few minutes)", DefaultValueFactory = _ => "full" };
        preset.AcceptOnlyFromAmong("full", "quick");
        var model = new Option<string>("--model") { Description = "The starting policy (Hugging Face model directory with tokenizer)", DefaultValueFactory = _ => "models/mini" };
        var output = new Option<string?>("--out") { Description = "Run directory: data, training run, evaluations (rerun the same command to resume); default runs/mini or runs/mini-quick" };
        var report = new Option<string?>("--report") { Description = "The markdown report (charts beside it); default docs/mini-report.md, or <out>/report.md for the quick preset" };
        var config = new Option<string?>("--config") { Description = "RLEF config instead of the preset's" };
        var randomSource = new Option<string>("--random-feedback-source") { Description = "Donors of the random-feedback evaluations: dataset (another test problem's incorrect_solutions, the paper's) or own-failures (the evaluated policy's own failed turns)", DefaultValueFactory = _ => "dataset" };
        randomSource.AcceptOnlyFromAmong("dataset", "own-failures");
        var seed = new Option<ulong>("--seed") { Description = "Seed of the RLEF run (schedule.seed: data order, minibatches, sampling during training); the evaluations keep theirs, so two seeds are compared on the same test rollouts' random numbers", DefaultValueFactory = _ => 1 };
        var command = new Command("mini", "The paper in miniature on generated contest problems: RLEF from the shipped small policy, " +
            "then a report comparing the starting and the trained policy on the test split (resumable: rerun the same command).")
        {
            preset, model, output, report, config, randomSource, seed,
        };
        command.Subcommands.Add(CreateGenerate());
        command.Subcommands.Add(MiniPretrainCommand.Create());
        command.SetAction(async (parse, cancellationToken) =>
        {
            var p = MiniPreset.FromName(parse.GetValue(preset)!);
            string outDir = parse.GetValue(output) ?? (p == MiniPreset.Full ? "runs/mini" : "runs/mini-quick");
            var options = new MiniRunOptions
            {
                Preset = p,
                ModelDirectory = parse.GetValue(model)!,
                OutputDirectory = outDir,
                ReportPath = parse.GetValue(report) ?? (p == MiniPreset.Full ? "docs/mini-report.md" : Path.Combine(outDir, "report.md")),
                ConfigFile = parse.GetValue(config),
                RandomFeedbackSource = parse.GetValue(randomSource)!,
                ConfigOverrides = [$"schedule.seed={parse.GetValue(seed)}"],
                Command = "rlef " + string.Join(' ', parse.Tokens.Select(t => t.Value)),
            };
            await using var executor = Executors.Create();
            var result = await new MiniRun(options, executor, new SpectreView()).RunAsync(cancellationToken);
            foreach (MiniTarget t in result.Targets)
                Console.WriteLine($"{(t.Met is null ? "n/a" : t.Met.Value ? "met" : "NOT met"),-8} {t.Target}: {t.Measured}");
            Console.WriteLine($"wall time {result.WallSeconds / 60:F1} min; report {result.ReportPath}");
            return 0;
        });
        return command;
    }

    /// <summary>The live display: the trainer's table (as `rlef train`) and a progress bar per evaluation.</summary>
    sealed class SpectreView : IMiniRunView
    {
        public void Note(string message) => AnsiConsole.MarkupLineInterpolated($"[grey]rlef mini:[/] {message}");

        public Task TrainAsync(string title, TrainingProgress progress, Func<Task> work) => TrainingDisplay.RunAsync(title, progress, work);

        public async Task EvaluateAsync(string title, Func<Action<int, int, int>, Task> work)
        {
            Note(title);
            if (!AnsiConsole.Profile.Capabilities.Interactive)
            {
                await work((_, _, _) => { });
                return;
            }
            await AnsiConsole.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("rollouts");
                    await work((done, total, solved) =>
                    {
                        task.MaxValue = Math.Max(1, total);
                        task.Value = done;
                        task.Description = $"{done}/{total} rollouts · solved {100.0 * solved / Math.Max(1, done):0.0}%";
                    });
                });
        }
    }

    static Command CreateGenerate()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory for train.jsonl, valid.jsonl, test.jsonl (+ .meta.jsonl beside each).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Generator seed: the same seed writes byte-identical files.", DefaultValueFactory = _ => 1 };
        var train = new Option<int>("--train") { Description = "Training problems.", DefaultValueFactory = _ => 2000 }.Within(0);
        var valid = new Option<int>("--valid") { Description = "Validation problems.", DefaultValueFactory = _ => 100 }.Within(0);
        var test = new Option<int>("--test") { Description = "Test problems.", DefaultValueFactory = _ => 200 }.Within(0);
        var difficulty = new Option<string>("--difficulty") { Description = "easy, medium or hard, optionally with overrides of its shares: easy:multicase=0.5,edge=0.3,position=0.5,open=1 (position: share of list and string problems that print a position without saying whether it counts from 0 or 1; open: share of those that also leave open which occurrence counts, settled only by a public test the statement does not show).", DefaultValueFactory = _ => "medium" };

        var command = new Command("generate", "Write generated CodeContests-style problems (statements, public and hidden tests, " +
            "reference and incorrect solutions) as train/valid/test splits that share no problem instance.")
        {
            output, seed, train, valid, test, difficulty,
        };
        command.SetAction(parse =>
        {
            int trainCount = parse.GetValue(train), validCount = parse.GetValue(valid), testCount = parse.GetValue(test);
            Difficulty level;
            try { level = Difficulty.FromName(parse.GetValue(difficulty)!); }
            catch (ArgumentException e) { throw new UserError($"--difficulty: {UserError.MessageOf(e)}"); }

            string directory = parse.GetValue(output)!.FullName;
            foreach (string file in SyntheticDataset.Generate(directory, parse.GetValue(seed), trainCount, validCount, testCount, level))
                Console.WriteLine(file);
            return 0;
        });
        return command;
    }
}
