using System.CommandLine;
using Rlef.Cli.Commands;

// The `rlef` command line: one verb per capability. Each verb lives in Commands/<Verb>Command.cs
// and exposes `static Command Create()`; this file only wires them together.
var root = new RootCommand("RLEF: reinforcement learning from execution feedback for code LLMs, in C#.");

var bench = new Command("bench", "Measure the sandbox or the engine against a baseline in the same run.");
bench.Subcommands.Add(BenchSandboxCommand.Create());
bench.Subcommands.Add(BenchEngineCommand.Create());

root.Subcommands.Add(ExecCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(SftCommand.Create());
root.Subcommands.Add(MiniCommand.Create());
root.Subcommands.Add(bench);

// A command line that does not parse (unknown option, bad or out-of-bounds value: OptionBounds) is a user error:
// one line on stderr and exit code 2, like every other user error; --help still prints the help.
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && args.Length > 0)
{
    Console.Error.WriteLine($"rlef: {parsed.Errors[0].Message}" + (parsed.Errors.Count > 1 ? $" (and {parsed.Errors.Count - 1} more; see --help)" : " (see --help)"));
    return 2;
}
return await parsed.InvokeAsync();
