using System.CommandLine;
using Rlef.Cli.Training;
using Rlef.Mini.Synthetic;
using Rlef.Sandbox;
using Rlef.Mini;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef mini pretrain --out models/mini [--work DIR] [--steps N] [--seed S]`: pretrains the miniature's starting
/// policy from scratch (the command that reproduces the shipped models/mini) and measures it on the test split.
/// Rerunning the same command resumes from the work directory's checkpoint.
/// </summary>
public static class MiniPretrainCommand
{
    public static Command Create()
    {
        var defaults = new MiniPretrainOptions();
        var output = new Option<string>("--out") { Description = "Model directory to write (config.json, model.safetensors, tokenizer, pretrain.json).", Required = true };
        var work = new Option<string>("--work") { Description = "Work directory: data, corpus, tokenizer, checkpoint (resume).", DefaultValueFactory = _ => "runs/mini-pretrain" };
        var seed = new Option<int>("--seed") { Description = "Model init, corpus draws and data order.", DefaultValueFactory = _ => defaults.Seed };
        var steps = new Option<int>("--steps") { Description = "Optimizer updates (the training budget).", DefaultValueFactory = _ => defaults.Steps }.Within(1);
        var f = new Option<double>("--format-mistake-probability") { Description = "f: a corpus reply is one of the problem's wrong-format mutants with this probability (when it has any), before q applies.", DefaultValueFactory = _ => defaults.Corpus.FormatMistakeProbability }.Within(0, 1, minInclusive: true);
        var repair = new Option<double>("--repair-probability") { Description = "p: after a wrong-format reply, the next corpus reply repairs it with this probability (a comment quoting the feedback's mismatch, then the reference; with open conventions a comment naming the one convention to fix, then the failing program with that line changed).", DefaultValueFactory = _ => defaults.Corpus.RepairProbability }.Within(0, 1, minInclusive: true);
        var r = new Option<double>("--repeat-probability") { Description = "r: a later corpus reply repeats the previous one verbatim with this probability, else it is drawn afresh.", DefaultValueFactory = _ => defaults.Corpus.RepeatProbability }.Within(0, 1, minInclusive: true);
        var q = new Option<double>("--reference-probability") { Description = "q: a corpus reply is the reference with this probability, else a one-bug mutant.", DefaultValueFactory = _ => defaults.Corpus.ReferenceProbability }.Within(0, 1, minInclusive: true);
        var conversations = new Option<int>("--conversations-per-problem") { Description = "Corpus conversations per train problem, each with its own draw of replies.", DefaultValueFactory = _ => defaults.Corpus.ConversationsPerProblem }.Within(1);
        var init = new Option<string?>("--init") { Description = "Continue from this model directory (its weights and tokenizer) instead of random weights and a new tokenizer." };
        var difficulty = new Option<string>("--difficulty") { Description = "Generator difficulty of the problems (default: the miniature's).", DefaultValueFactory = _ => defaults.Difficulty };
        var learningRate = new Option<double>("--learning-rate") { Description = "Peak learning rate (cosine decay to 5% of it).", DefaultValueFactory = _ => defaults.LearningRate }.Within(0, 1);
        var tokenizer = new Option<string>("--tokenizer") { Description = "bpe (trained on the corpus) or byte.", DefaultValueFactory = _ => defaults.Tokenizer };
        var evalProblems = new Option<int?>("--eval-problems") { Description = "Measure the start policy on the first N test problems only (default: all)." }.Within(1);
        var noEval = new Option<bool>("--no-eval") { Description = "Skip measuring the start policy." };
        var measureOnly = new Option<bool>("--measure-only") { Description = "Only measure the model already in --out on the test split (no training)." };
        var command = new Command("pretrain", "Pretrain the miniature's small starting policy by SFT on generated train problems (two runs reproduce models/mini: see src/Rlef.Mini/README.md).")
        {
            output, work, seed, steps, q, f, r, repair, conversations, init, difficulty, learningRate, tokenizer, evalProblems, noEval, measureOnly,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            string tok = parse.GetValue(tokenizer)!;
            if (tok is not ("bpe" or "byte")) throw new UserError("--tokenizer must be bpe or byte");
            try { Difficulty.FromName(parse.GetValue(difficulty)!); }
            catch (ArgumentException e) { throw new UserError($"--difficulty: {UserError.MessageOf(e)}"); }
            string? initModel = parse.GetValue(init);
            if (initModel is not null && !File.Exists(Path.Combine(initModel, "config.json")))
                throw new UserError($"--init {initModel}: no config.json there (expected a model directory such as models/mini)");
            var options = defaults with
            {
                Seed = parse.GetValue(seed),
                Steps = parse.GetValue(steps),
                Tokenizer = tok,
                Difficulty = parse.GetValue(difficulty)!,
                InitModel = initModel,
                LearningRate = parse.GetValue(learningRate),
                Corpus = defaults.Corpus with { ReferenceProbability = parse.GetValue(q), FormatMistakeProbability = parse.GetValue(f), RepeatProbability = parse.GetValue(r), RepairProbability = parse.GetValue(repair),
                    ConversationsPerProblem = parse.GetValue(conversations) },
            };
            string commandLine = "rlef " + string.Join(" ", parse.Tokens.Select(t => t.Value));
            var pretraining = new MiniPretraining(options, parse.GetValue(output)!, parse.GetValue(work)!,
                line => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}"))
            {
                Evaluate = !parse.GetValue(noEval),
                EvalProblems = parse.GetValue(evalProblems),
            };
            await using ICodeExecutor executor = Executors.Create();
            if (parse.GetValue(measureOnly))
            {
                string dir = Path.Combine(Path.GetTempPath(), $"rlef-mini-test-{Guid.NewGuid():N}");
                try
                {
                    MiniDataset.Write(MiniDataset.Generate(0), dir);
                    var problems = MiniDataset.Load(dir, "test");
                    if (parse.GetValue(evalProblems) is int n) problems = problems.Take(n).ToList();
                    await MiniPretraining.MeasureAsync(parse.GetValue(output)!, problems, executor, options.Seed,
                        line => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}"), cancellationToken,
                        Path.Combine(parse.GetValue(work)!, "measure-rollouts.jsonl"));
                }
                finally { Directory.Delete(dir, recursive: true); }
                return 0;
            }
            var report = await pretraining.RunAsync(commandLine, executor, cancellationToken);
            Console.Error.WriteLine($"rlef mini pretrain: done in {report.WallSeconds / 60:F1} min, final loss {report.FinalLoss:F3}");
            return 0;
        });
        return command;
    }
}
