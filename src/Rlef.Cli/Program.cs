using System.CommandLine;
using Rlef.Cli.Commands;

// The `rlef` command line: one verb per capability. Each verb lives in Commands/<Verb>Command.cs
// and exposes `static Command Create()`; this file only wires them together.
var root = new RootCommand("RLEF: reinforcement learning from execution feedback for code LLMs, in C#.");

var bench = new Command("bench", "Measure the sandbox or the engine against a baseline in the same run.");
bench.Subcommands.Add(BenchSandboxCommand.Create());
bench.Subcommands.Add(BenchEngineCommand.Create());

var data = new Command("data", "Get benchmark data from its canonical sources into the data cache.");
data.Subcommands.Add(DataFetchCommand.Create());

root.Subcommands.Add(ExecCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(SftCommand.Create());
root.Subcommands.Add(MiniCommand.Create());
root.Subcommands.Add(data);
root.Subcommands.Add(bench);

return await root.Parse(args).InvokeAsync();
