using System.CommandLine;
using Rlef.Cli.Training;
using Rlef.Engine.IO;
using Rlef.Environment.Rollouts;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Sft;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef sft --config FILE --rollouts ROLLOUTS.jsonl --out WEIGHTS.safetensors [--batch N] [key=value ...]`:
/// supervised fine-tuning on stored trajectories (sft.loss_on: the last successful reply or all replies).
/// </summary>
public static class SftCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Config file: model.*, sft.*, optimizer.*, engine.*." };
        var rollouts = new Option<string>("--rollouts") { Description = "rollouts.jsonl (as `rlef eval` writes it) to learn from.", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the fine-tuned weights (safetensors; model.init_weights of a later run).", Required = true };
        var batch = new Option<int>("--batch") { Description = "Trajectories per update.", DefaultValueFactory = _ => 16 };
        var overrides = new Argument<string[]>("overrides") { Description = "key=value overrides", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("sft", "Supervised fine-tuning on trajectories (the paper's SFT baseline, or a warm start).") { config, rollouts, output, batch, overrides };
        command.SetAction(async (parse, cancellationToken) =>
        {
            RlefConfig c = ConfigLoader.Load(parse.GetValue(config), parse.GetValue(overrides) ?? []);
            var errors = c.Validate();
            if (errors.Count > 0) throw new ConfigException(string.Join("\n", errors));
            InitialPolicy policy = RunSetup.LoadPolicy(c);
            var trajectories = RolloutStore.Read(parse.GetValue(rollouts)!).Select(r => RolloutTrajectories.From(r, policy.Format)).ToList();
            var trainer = new SftTrainer(policy.Model, c);
            var examples = trainer.Examples(trajectories);
            int batchSize = parse.GetValue(batch);
            long total = c.Sft.Epochs * ((examples.Count + batchSize - 1) / batchSize);
            Console.Error.WriteLine($"rlef sft: {trajectories.Count} trajectories, {examples.Count} kept ({c.Sft.LossOn}), {total} updates");
            var progress = new TrainingProgress(total);
            await TrainingDisplay.RunAsync("rlef sft", progress, () => Task.Run(() =>
            {
                progress.Enter(Phase.Update);
                trainer.Train(examples, batchSize, (step, r) => progress.CompleteStep(step, r.Tokens,
                    [new(MetricNames.SftLoss, r.Loss), new(MetricNames.GradNorm, r.GradNorm), new(MetricNames.LearningRate, r.LearningRate)]));
            }, cancellationToken));
            Safetensors.Save(parse.GetValue(output)!, policy.Model.Parameters);
            Console.Error.WriteLine($"rlef sft: wrote {parse.GetValue(output)}");
            return 0;
        });
        return command;
    }
}
