using System.CommandLine;

namespace Rlef.Cli.Commands;

// Placeholder until the issue that owns this verb lands; it reports that plainly instead of pretending.
public static class BenchEngineCommand
{
    public static Command Create()
    {
        var command = new Command("engine", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("rlef engine: not built yet."); return 2; });
        return command;
    }
}
