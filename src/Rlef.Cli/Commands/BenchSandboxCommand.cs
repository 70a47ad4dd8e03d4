using System.CommandLine;

namespace Rlef.Cli.Commands;

// Placeholder until the issue that owns this verb lands; it reports that plainly instead of pretending.
public static class BenchSandboxCommand
{
    public static Command Create()
    {
        var command = new Command("sandbox", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("rlef sandbox: not built yet."); return 2; });
        return command;
    }
}
