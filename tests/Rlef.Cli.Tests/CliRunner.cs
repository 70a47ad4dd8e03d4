using System.Reflection;

namespace Rlef.Cli.Tests;

/// <summary>
/// Runs the `rlef` program's own entry point in this process (argument parsing, validation and exit codes included)
/// and captures what it writes to stdout and stderr. Console redirection is process-wide, so callers are serialized.
/// </summary>
public static class CliRunner
{
    private static readonly SemaphoreSlim OneAtATime = new(1, 1);

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        MethodInfo main = typeof(Rlef.Cli.OptionBounds).Assembly.EntryPoint!;
        await OneAtATime.WaitAsync();
        TextWriter stdout = Console.Out, stderr = Console.Error;
        var outWriter = new StringWriter();
        var errWriter = new StringWriter();
        try
        {
            Console.SetOut(outWriter);
            Console.SetError(errWriter);
            object? returned = main.Invoke(null, [args]);
            int code = returned switch
            {
                Task<int> task => await task,
                int value => value,
                _ => throw new InvalidOperationException("unexpected entry point"),
            };
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
