using System.CommandLine;
using System.Globalization;
using Rlef.Cli.Training;
using Rlef.Engine.IO;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Rollouts;
using Rlef.Training.Runs;
using Rlef.Training.Sft;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef sft --config FILE --rollouts ROLLOUTS.jsonl --out WEIGHTS.safetensors [--batch N] [key=value ...]`:
/// supervised fine-tuning on stored trajectories with the paper's SFT recipe (docs/protocol.md §3.12): sft.loss_on
/// picks the replies, sft.* the schedule, and with data.valid set the weights kept are the best of the validations.
/// </summary>
public static class SftCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Config file: model.*, sft.*, optimizer.* (AdamW's betas, decay, clipping), data.valid (validation), engine.* (configs/sft-paper.yaml: the paper's recipe)." };
        var rollouts = new Option<string>("--rollouts") { Description = "rollouts.jsonl (as `rlef eval` writes it) to learn from; the paper's SFT data: rollouts on the training problems with --temperature-range 0.1,1.0.", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write the fine-tuned policy: FILE.safetensors (weights only: model.init_weights of a later run) or a folder (a Hugging Face model directory with model.directory's tokenizer: `rlef eval --policy model:DIR`); the best on validation when data.valid is set, else the final weights.", Required = true };
        var batch = new Option<int?>("--batch") { Description = "Trajectories per update (default sft.batch_size: 64, the paper's)." }.Within(1);
        var overrides = new Argument<string[]>("overrides") { Description = "key=value overrides", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("sft", "Supervised fine-tuning on trajectories (the paper's SFT baseline, or a warm start).") { config, rollouts, output, batch, overrides };
        command.SetAction(async (parse, cancellationToken) =>
        {
            RlefConfig c = ConfigLoader.Load(parse.GetValue(config), parse.GetValue(overrides) ?? []);
            var errors = c.Validate();
            if (errors.Count > 0) throw new ConfigException(string.Join("\n", errors));
            string outPath = parse.GetValue(output)!;
            bool asDirectory = !outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
            if (asDirectory && c.Model.Directory.Length == 0)
                throw new UserError($"--out {outPath}: a model directory needs model.directory (its tokenizer goes with the weights); give FILE.safetensors for a from-scratch model");
            InitialPolicy policy = RunSetup.LoadPolicy(c);
            var trajectories = RolloutStore.Read(parse.GetValue(rollouts)!).Select(r => RolloutTrajectories.From(r, policy.Format)).ToList();
            var trainer = new SftTrainer(policy.Model, c);
            var examples = trainer.Examples(trajectories);
            int batchSize = parse.GetValue(batch) ?? c.Sft.BatchSize;
            long total = SftTrainer.TotalUpdates(c.Sft, examples.Count, batchSize);
            var valid = c.Sft.EvalEvery > 0 ? RunSetup.ValidProblems(c) : [];
            if (valid.Count > 0 && c.Data.ValidProblems > 0) valid = [.. valid.Take(c.Data.ValidProblems)];
            string validation = valid.Count > 0
                ? $"validation on {valid.Count} problems every {c.Sft.EvalEvery} updates and at the end, best kept"
                : "no validation (data.valid unset or sft.eval_every 0): final weights kept";
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rlef sft: {trajectories.Count} trajectories, {examples.Count} kept ({c.Sft.LossOn}), {total} updates of {batchSize} (lr {c.Sft.LearningRate:G3}, {c.Sft.WarmupSteps} warm-up, {c.Sft.Decay}); {validation}"));

            await using ICodeExecutor? executor = valid.Count > 0 ? Executors.Create(c.Sandbox) : null;
            var collector = executor is null ? null : new RolloutCollector(executor, policy.Format, c);
            var progress = new TrainingProgress(total);
            await TrainingDisplay.RunAsync("rlef sft", progress, () => Task.Run(async () =>
            {
                progress.Enter(Phase.Update);
                await trainer.TrainAsync(examples, batchSize,
                    (step, r) => progress.CompleteStep(step, r.Tokens,
                        [new(MetricNames.SftLoss, r.Loss), new(MetricNames.GradNorm, r.GradNorm), new(MetricNames.LearningRate, r.LearningRate)]),
                    collector is null ? null : async ct =>
                    {
                        progress.Enter(Phase.Evaluation);
                        double score = await collector.ValidationSolveRateAsync(policy.Model, valid, ct);
                        progress.Enter(Phase.Update);
                        return score;
                    },
                    v =>
                    {
                        // The best weights are on disk as soon as they are found: a crash keeps the best so far.
                        if (v.IsBest) SaveAtomically(outPath, policy, asDirectory ? c.Model.Directory : null);
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"rlef sft: update {v.Step}: valid solve rate {100 * v.Score:0.0}%{(v.IsBest ? " (best so far, written)" : $" (best {100 * trainer.Best!.Score:0.0}% at update {trainer.Best.Step})")}"));
                    }, cancellationToken);
            }, cancellationToken));
            if (trainer.Best is null) SaveAtomically(outPath, policy, asDirectory ? c.Model.Directory : null);
            Console.Error.WriteLine(trainer.Best is { } best
                ? string.Create(CultureInfo.InvariantCulture, $"rlef sft: wrote {outPath} (update {best.Step}, valid solve rate {100 * best.Score:0.0}%)")
                : $"rlef sft: wrote {outPath}");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Writes the policy under a temporary name and moves it into place, so a crash never leaves half a file: a
    /// safetensors file, or with <paramref name="tokenizerFrom"/> a Hugging Face model directory (config, weights, and
    /// that directory's tokenizer files).
    /// </summary>
    static void SaveAtomically(string path, InitialPolicy policy, string? tokenizerFrom)
    {
        string full = Path.GetFullPath(path.TrimEnd('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = full + ".tmp";
        if (tokenizerFrom is null)
        {
            Safetensors.Save(temporary, policy.Model.Parameters);
            File.Move(temporary, full, overwrite: true);
            return;
        }
        // Written beside, then moved in file by file: nothing else in the folder is touched.
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        policy.Model.Save(temporary);
        foreach (string file in Directory.EnumerateFiles(tokenizerFrom))
        {
            string name = Path.GetFileName(file);
            if (name.StartsWith("tokenizer", StringComparison.Ordinal) || name is "special_tokens_map.json" or "generation_config.json" or "chat_template.jinja")
                File.Copy(file, Path.Combine(temporary, name));
        }
        Directory.CreateDirectory(full);
        foreach (string file in Directory.EnumerateFiles(temporary))
            File.Move(file, Path.Combine(full, Path.GetFileName(file)), overwrite: true);
        Directory.Delete(temporary);
    }
}
