using System.CommandLine;
using Rlef.Cli.Training;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Cli.Commands;

/// <summary>`rlef train --config FILE --run DIR [key=value ...]` or `rlef train --resume DIR`: an RLEF run (PPO).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Config file (JSON or YAML); paper defaults for every key it omits." };
        var runDir = new Option<string?>("--run") { Description = "New run directory (config.json, metrics.jsonl, tensorboard/, checkpoints/)." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this directory from its last checkpoint." };
        var overrides = new Argument<string[]>("overrides") { Description = "key=value overrides, e.g. rollout.rollouts_per_iteration=64", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("train", "Train a policy with RLEF (PPO on execution feedback, docs/protocol.md §2-3).") { config, runDir, resume, overrides };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? resumeDir = parse.GetValue(resume);
            string[] keyValues = parse.GetValue(overrides) ?? [];
            RunDirectory? resumed = null;
            RlefConfig c;
            if (resumeDir is not null)
            {
                if (keyValues.Length > 0 || parse.GetValue(config) is not null)
                    throw new ConfigException("--resume continues a run with its saved config; --config and overrides are not allowed with it");
                resumed = RunDirectory.Resume(resumeDir);
                c = resumed.Config;
            }
            else
            {
                c = ConfigLoader.Load(parse.GetValue(config), keyValues);
                var errors = c.Validate();
                if (errors.Count > 0) throw new ConfigException(string.Join("\n", errors));
            }
            // Model and data first: a new run directory is created only once everything it needs loads.
            InitialPolicy policy = RunSetup.LoadPolicy(c);
            var train = RunSetup.TrainProblems(c);
            var valid = RunSetup.ValidProblems(c);
            await using var executor = Executors.Create();
            using RunDirectory run = resumed ?? RunDirectory.Create(
                parse.GetValue(runDir) ?? throw new ConfigException("give --run DIR for a new run (or --resume DIR)"), c);
            {
                var progress = new TrainingProgress(c.Schedule.TotalUpdates, run.ResumedFrom?.State.Step ?? 0);
                var trainer = new RlefTrainer(run, policy.Model, policy.Format, executor, train, valid, progress);
                Console.Error.WriteLine($"rlef train: {run.Path}: {train.Count} training / {valid.Count} validation problems, " +
                    $"{policy.Model.ParameterCount:N0} parameters, from step {trainer.State.Step}");
                await TrainingDisplay.RunAsync($"rlef train {run.Path}", progress, () => trainer.RunAsync(cancellationToken: cancellationToken));
                Console.Error.WriteLine($"rlef train: done at step {trainer.State.Step}" +
                    (trainer.State.Best is { } best ? $"; best {best.Metric} {best.Score:F4} at step {best.Step}" : ""));
            }
            return 0;
        });
        return command;
    }
}
