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
/// `rlef sft --config FILE --rollouts ROLLOUTS.jsonl --out WEIGHTS.safetensors [--run DIR] [--batch N] [key=value ...]`
/// or `rlef sft --resume DIR`: supervised fine-tuning on stored trajectories with the paper's SFT recipe
/// (docs/protocol.md §3.12): sft.loss_on picks the replies, sft.* the schedule, and with data.valid set the weights
/// kept are the best of the validations. With --run the run is resumable: its directory holds the config, the data's
/// fingerprint, metrics.jsonl and checkpoints, and --resume continues it from its newest checkpoint.
/// </summary>
public static class SftCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Config file: model.*, sft.*, optimizer.* (AdamW's betas, decay, clipping), data.valid (validation), engine.*, schedule.seed/checkpoint_every/keep_last_checkpoints (configs/sft-paper.yaml: the paper's recipe)." };
        var rollouts = new Option<string?>("--rollouts") { Description = "rollouts.jsonl (as `rlef eval` writes it) to learn from; the paper's SFT data: rollouts on the training problems with --temperature-range 0.1,1.0. Required unless --resume (the run's is used)." };
        var output = new Option<string?>("--out") { Description = "Where to write the fine-tuned policy: FILE.safetensors (weights only: model.init_weights of a later run) or a folder (a Hugging Face model directory with model.directory's tokenizer: `rlef eval --policy model:DIR`); the best on validation when data.valid is set, else the final weights. Required unless --run or --resume (then the checkpoints hold the weights)." };
        var runDir = new Option<string?>("--run") { Description = "Run directory for a resumable run: config.json, sft-data.json, metrics.jsonl, checkpoints/ every schedule.checkpoint_every updates, after each validation and at the end." };
        var resume = new Option<string?>("--resume") { Description = "Continue the SFT run in this directory from its newest checkpoint, with its config, trajectories and --out; a --config, override, --batch or --rollouts given must match the run's." };
        var batch = new Option<int?>("--batch") { Description = "Trajectories per update (sets sft.batch_size; default 64, the paper's)." }.Within(1);
        var overrides = new Argument<string[]>("overrides") { Description = "key=value overrides", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("sft", "Supervised fine-tuning on trajectories (the paper's SFT baseline, or a warm start).") { config, rollouts, output, runDir, resume, batch, overrides };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string? resumeDir = parse.GetValue(resume);
            string[] assignments = parse.GetValue(overrides) ?? [];
            if (resumeDir is not null && parse.GetValue(runDir) is not null) throw new UserError("give --run DIR for a new run or --resume DIR, not both");
            RlefConfig c;
            SftRunData? recorded = null;
            if (resumeDir is null)
            {
                c = ConfigLoader.Load(parse.GetValue(config), assignments);
                if (parse.GetValue(batch) is int b) c = c with { Sft = c.Sft with { BatchSize = b } };
            }
            else
            {
                recorded = SftRunData.Read(resumeDir);
                c = ConfigLoader.Load(Path.Combine(resumeDir, RunDirectory.ConfigFileName));
                // What the command line says must be what the run was started with: a resumed run keeps its config.
                if (parse.GetValue(config) is not null || assignments.Length > 0 || parse.GetValue(batch) is not null)
                {
                    RlefConfig given = ConfigLoader.Load(parse.GetValue(config) ?? Path.Combine(resumeDir, RunDirectory.ConfigFileName), assignments);
                    if (parse.GetValue(batch) is int b) given = given with { Sft = given.Sft with { BatchSize = b } };
                    RunDirectory.RequireSameConfig(resumeDir, given);
                }
            }
            var errors = c.Validate();
            if (errors.Count > 0) throw new ConfigException(string.Join("\n", errors));
            string? outPath = parse.GetValue(output) ?? recorded?.Out;
            if (recorded?.Out is { } recordedOut && outPath is not null && Path.GetFullPath(outPath) != recordedOut)
                throw new UserError($"--resume {resumeDir}: --out {outPath} is not the run's ({recordedOut})");
            if (outPath is null && resumeDir is null && parse.GetValue(runDir) is null)
                throw new UserError("give --out FILE.safetensors|DIR (or --run DIR for a resumable run)");
            string rolloutsPath = parse.GetValue(rollouts) ?? recorded?.Rollouts ?? throw new UserError("give --rollouts ROLLOUTS.jsonl");
            bool asDirectory = outPath is not null && !outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
            if (asDirectory && c.Model.Directory.Length == 0)
                throw new UserError($"--out {outPath}: a model directory needs model.directory (its tokenizer goes with the weights); give FILE.safetensors for a from-scratch model");
            InitialPolicy policy = RunSetup.LoadPolicy(c);
            var trajectories = RolloutStore.Read(rolloutsPath).Select(r => RolloutTrajectories.From(r, policy.Format)).ToList();
            var examples = trajectories.Select(t => SftTargets.Build(t, c.Sft)).OfType<SftExample>().ToList();
            recorded?.Check(examples, resumeDir!);

            string? newRun = resumeDir is null ? parse.GetValue(runDir) : null;
            if (newRun is not null)
            {
                if (File.Exists(Path.Combine(newRun, RunDirectory.ConfigFileName)))
                    throw new UserError($"--run {newRun} already holds a run; continue it with `rlef sft --resume {newRun}` or choose another directory");
                // The data record goes first: a directory with a config always has it.
                Directory.CreateDirectory(newRun);
                new SftRunData(Path.GetFullPath(rolloutsPath), outPath is null ? null : Path.GetFullPath(outPath), examples.Count, SftRunData.FingerprintOf(examples)).Write(newRun);
            }
            using RunDirectory? run = resumeDir is not null ? RunDirectory.Resume(resumeDir) : newRun is not null ? RunDirectory.Create(newRun, c) : null;
            var trainer = new SftTrainer(policy.Model, c, run);
            int batchSize = c.Sft.BatchSize;
            long total = SftTrainer.TotalUpdates(c.Sft, examples.Count, batchSize);
            var valid = c.Sft.EvalEvery > 0 ? RunSetup.ValidProblems(c) : [];
            if (valid.Count > 0 && c.Data.ValidProblems > 0) valid = [.. valid.Take(c.Data.ValidProblems)];
            string validation = valid.Count > 0
                ? $"validation on {valid.Count} problems every {c.Sft.EvalEvery} updates and at the end, best kept"
                : "no validation (data.valid unset or sft.eval_every 0): final weights kept";
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"rlef sft: {trajectories.Count} trajectories, {examples.Count} kept ({c.Sft.LossOn}), {total} updates of {batchSize} (lr {c.Sft.LearningRate:G3}, {c.Sft.WarmupSteps} warm-up, {c.Sft.Decay}); {validation}"));
            if (run is not null)
                Console.Error.WriteLine(run.ResumedFrom is { } from
                    ? string.Create(CultureInfo.InvariantCulture, $"rlef sft: resuming {run.Path} from update {from.State.Step} of {total}")
                    : $"rlef sft: run {run.Path} (checkpoints every {c.Schedule.CheckpointEvery} updates; `rlef sft --resume {run.Path}` continues it)");

            await using ICodeExecutor? executor = valid.Count > 0 ? Executors.Create(c.Sandbox) : null;
            var collector = executor is null ? null : new RolloutCollector(executor, policy.Format, c);
            var progress = new TrainingProgress(total, trainer.Step);
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
                        if (v.IsBest && outPath is not null) SaveAtomically(outPath, policy, asDirectory ? c.Model.Directory : null);
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"rlef sft: update {v.Step}: valid solve rate {100 * v.Score:0.0}%{(v.IsBest ? $" (best so far{(outPath is null ? "" : ", written")})" : $" (best {100 * trainer.Best!.Score:0.0}% at update {trainer.Best.Step})")}"));
                    }, cancellationToken);
            }, cancellationToken));
            // A resumed run may have found its best before the crash (and crashed before writing --out): the best
            // checkpoint holds it. Training is over, so the model can take those weights.
            if (trainer.Best is not null && run?.Checkpoints.Best() is { } bestCheckpoint && outPath is not null)
            {
                ModelFiles.LoadWeights(ModelFiles.PathOf(bestCheckpoint, SftTrainer.PolicyFile), policy.Model);
                SaveAtomically(outPath, policy, asDirectory ? c.Model.Directory : null);
            }
            if (trainer.Best is null && outPath is not null) SaveAtomically(outPath, policy, asDirectory ? c.Model.Directory : null);
            Console.Error.WriteLine(trainer.Best is { } best
                ? string.Create(CultureInfo.InvariantCulture, $"rlef sft: {(outPath is null ? $"best in {run!.Checkpoints.Best()?.Directory}" : $"wrote {outPath}")} (update {best.Step}, valid solve rate {100 * best.Score:0.0}%)")
                : outPath is null ? $"rlef sft: final weights in {run!.Checkpoints.Latest()?.Directory}" : $"rlef sft: wrote {outPath}");
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
