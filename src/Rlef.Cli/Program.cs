using System.CommandLine;
using Rlef.Cli;
using Rlef.Cli.Commands;

// The `rlef` command line: one verb per capability. Each verb lives in Commands/<Verb>Command.cs
// and exposes `static Command Create()`; this file only wires them together.
return await RlefCommand.RunAsync(args, Console.Error);

namespace Rlef.Cli
{
    public static class RlefCommand
    {
        public static RootCommand Create()
        {
            var root = new RootCommand("RLEF: reinforcement learning from execution feedback for code LLMs, in C#.");
            var bench = new Command("bench", "Measure the sandbox or the engine against a baseline in the same run.");
            bench.Subcommands.Add(BenchSandboxCommand.Create());
            bench.Subcommands.Add(BenchEngineCommand.Create());
            bench.Subcommands.Add(BenchServeCommand.Create());

            var serve = new Command("serve", "Run one of the project's HTTP services.");
            serve.Subcommands.Add(ServeSandboxCommand.Create());
            serve.Subcommands.Add(ServeModelCommand.Create());
            serve.Subcommands.Add(ServeLearnerCommand.Create());

            var data = new Command("data", "Get benchmark data from its canonical sources into the data cache.");
            data.Subcommands.Add(DataFetchCommand.Create());

            root.Subcommands.Add(ExecCommand.Create());
            root.Subcommands.Add(EvalCommand.Create());
            root.Subcommands.Add(TokenizeCommand.Create());
            root.Subcommands.Add(TrainCommand.Create());
            root.Subcommands.Add(SftCommand.Create());
            root.Subcommands.Add(MiniCommand.Create());
            root.Subcommands.Add(serve);
            root.Subcommands.Add(data);
            root.Subcommands.Add(bench);
            return root;
        }

        /// <summary>
        /// Runs the verb <paramref name="args"/> name. A user error (<see cref="UserError.Is"/>) becomes one line on
        /// <paramref name="error"/>, "rlef VERB: message" with secrets masked, and exit code 2; anything else is a bug
        /// and keeps its stack trace.
        /// </summary>
        public static async Task<int> RunAsync(string[] args, TextWriter error)
        {
            ParseResult parse = Create().Parse(args);
            // A command line that does not parse (unknown option, bad or out-of-bounds value: OptionBounds) is a
            // user error too; with no arguments at all the help is shown.
            if (parse.Errors.Count > 0 && args.Length > 0)
            {
                error.WriteLine($"{Verb(parse)}: {parse.Errors[0].Message}" +
                                (parse.Errors.Count > 1 ? $" (and {parse.Errors.Count - 1} more; see --help)" : " (see --help)"));
                return 2;
            }
            try
            {
                return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            }
            catch (Exception e) when (UserError.Is(e))
            {
                error.WriteLine($"{Verb(parse)}: {Rlef.Environment.Policies.Secrets.Mask(UserError.MessageOf(e))}");
                return 2;
            }
        }

        /// <summary>"rlef mini pretrain" for the verb that ran.</summary>
        static string Verb(ParseResult parse)
        {
            var names = new List<string>();
            for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
                names.Add(result.Command.Name);
            names[^1] = "rlef";
            names.Reverse();
            return string.Join(' ', names);
        }
    }
}
