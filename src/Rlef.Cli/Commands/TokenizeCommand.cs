using System.CommandLine;

namespace Rlef.Cli.Commands;

// Placeholder until the issue that owns this verb lands; it reports that plainly instead of pretending.
public static class TokenizeCommand
{
    public static Command Create()
    {
        var command = new Command("tokenize", "(not built yet)");
        command.SetAction(_ => { Console.Error.WriteLine("rlef tokenize: not built yet."); return 2; });
        return command;
    }
}
