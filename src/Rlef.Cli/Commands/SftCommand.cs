using System.CommandLine;

namespace Rlef.Cli.Commands;

// Placeholder until the issue that owns this verb lands; it reports that plainly instead of pretending.
public static class SftCommand
{
    public static Command Create()
    {
        var command = new Command("sft", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("rlef sft: not built yet."); return 2; });
        return command;
    }
}
