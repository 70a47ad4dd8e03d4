namespace Rlef.Cli.Tests;

/// <summary>
/// Runs the `rlef` command line in this process (<see cref="RlefCommand.RunAsync"/>: parsing, validation, the
/// user-error mapping and exit codes included)
/// and captures what it writes to stdout and stderr. Console redirection is process-wide, so callers are serialized.
/// </summary>
public static class CliRunner
{
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        await OneAtATime.WaitAsync();
        TextWriter stdout = Console.Out, stderr = Console.Error;
        var outWriter = new StringWriter();
        var errWriter = new StringWriter();
        try
        {
            Console.SetOut(outWriter);
            Console.SetError(errWriter);
            int code = await RlefCommand.RunAsync(args, errWriter);
            return new Result(code, outWriter.ToString(), errWriter.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            OneAtATime.Release();
        }
    }
}
