using System.CommandLine;
using Rlef.Environment.Synthetic;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef mini`: the paper in miniature on generated contest problems. `generate` writes the train/valid/test
/// splits in the CodeContests JSONL schema, so `rlef eval --dataset codecontests` and `rlef train` read them like
/// any dataset. The end-to-end run (shipped small policy, RLEF, before/after report) is not built yet.
/// </summary>
public static class MiniCommand
{
    public static Command Create()
    {
        var command = new Command("mini", "The paper in miniature on generated contest problems.");
        command.Subcommands.Add(CreateGenerate());
        command.Subcommands.Add(MiniPretrainCommand.Create());
        command.SetAction(_ =>
        {
            Console.Error.WriteLine("rlef mini: the end-to-end run (small shipped policy, RLEF, report) is not built yet; " +
                "`rlef mini generate` writes the generated problems.");
            return 2;
        });
        return command;
    }

    static Command CreateGenerate()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory for train.jsonl, valid.jsonl, test.jsonl (+ .meta.jsonl beside each).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Generator seed: the same seed writes byte-identical files.", DefaultValueFactory = _ => 1 };
        var train = new Option<int>("--train") { Description = "Training problems.", DefaultValueFactory = _ => 2000 };
        var valid = new Option<int>("--valid") { Description = "Validation problems.", DefaultValueFactory = _ => 100 };
        var test = new Option<int>("--test") { Description = "Test problems.", DefaultValueFactory = _ => 200 };
        var difficulty = new Option<string>("--difficulty") { Description = "easy, medium or hard.", DefaultValueFactory = _ => "medium" };

        var command = new Command("generate", "Write generated CodeContests-style problems (statements, public and hidden tests, " +
            "reference and incorrect solutions) as train/valid/test splits that share no problem instance.")
        {
            output, seed, train, valid, test, difficulty,
        };
        command.SetAction(parse =>
        {
            int trainCount = parse.GetValue(train), validCount = parse.GetValue(valid), testCount = parse.GetValue(test);
            if (trainCount < 0 || validCount < 0 || testCount < 0)
            {
                Console.Error.WriteLine("rlef mini generate: --train, --valid and --test must be >= 0");
                return 2;
            }
            Difficulty level;
            try { level = Difficulty.FromName(parse.GetValue(difficulty)!); }
            catch (ArgumentException e) { Console.Error.WriteLine($"rlef mini generate: --difficulty: {e.Message}"); return 2; }

            string directory = parse.GetValue(output)!.FullName;
            foreach (string file in SyntheticDataset.Generate(directory, parse.GetValue(seed), trainCount, validCount, testCount, level))
                Console.WriteLine(file);
            return 0;
        });
        return command;
    }
}
