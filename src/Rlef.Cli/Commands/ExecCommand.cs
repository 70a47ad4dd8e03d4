using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Rlef.Environment;
using Rlef.Sandbox;

namespace Rlef.Cli.Commands;

/// <summary>`rlef exec SOLUTION.py`: run one program on one input in the sandbox and print the verdict.</summary>
public static class ExecCommand
{
    public static Command Create()
    {
        var solution = new Argument<FileInfo>("SOLUTION") { Description = "The Python program to run." };
        var stdin = new Option<FileInfo?>("--stdin") { Description = "File fed to the program's standard input (default: empty input)." };
        var expected = new Option<FileInfo?>("--expected") { Description = "Expected standard output; without it the verdict only reflects crashes and limits." };
        var timeLimit = new Option<double>("--time-limit") { Description = "CPU and wall-clock limit in seconds.", DefaultValueFactory = _ => 10 };
        var memoryLimit = new Option<int>("--memory-limit") { Description = "Memory limit in MB.", DefaultValueFactory = _ => 1024 };
        var comparison = new Option<Comparison>("--comparison") { Description = "How stdout is compared with --expected.", DefaultValueFactory = _ => Comparison.CodeContests };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: verdict, stdout, stderr, time_ms (plus expected, actual, error)." };
        var noIsolation = new Option<bool>("--no-isolation") { Description = "DEBUGGING ONLY: run without bubblewrap (the program can touch this machine)." };

        var command = new Command("exec", "Run one program on one input in the sandbox and print the verdict (passed, wrong_answer, " +
            "runtime_error, syntax_error, timeout, memory_limit, output_limit, infra_error). Exit code 0 when passed, 1 otherwise.")
        {
            solution, stdin, expected, timeLimit, memoryLimit, comparison, json, noIsolation,
        };
        command.SetAction(async (parse, ct) =>
        {
            FileInfo file = parse.GetValue(solution)!;
            FileInfo? stdinFile = parse.GetValue(stdin), expectedFile = parse.GetValue(expected);
            foreach (var (f, what) in new[] { (file, "SOLUTION"), (stdinFile, "--stdin"), (expectedFile, "--expected") })
                if (f is { Exists: false })
                    throw new UserError($"{what} file '{f.FullName}' does not exist");
            double seconds = parse.GetValue(timeLimit);
            int mb = parse.GetValue(memoryLimit);
            if (seconds <= 0 || mb <= 0)
                throw new UserError("--time-limit and --memory-limit must be positive");
            var request = new ExecutionRequest
            {
                Code = await File.ReadAllTextAsync(file.FullName, ct),
                Tests = [TestCase.Stdio(stdinFile != null ? await File.ReadAllTextAsync(stdinFile.FullName, ct) : "",
                    expectedFile != null ? await File.ReadAllTextAsync(expectedFile.FullName, ct) : null)],
                Comparison = parse.GetValue(comparison),
                Limits = new ExecutionLimits { CpuTimeSeconds = seconds, WallTimeSeconds = seconds, MemoryMb = mb },
            };
            ExecutionReport report;
            await using (var executor = new FreshProcessExecutor(new SandboxOptions { Workers = 1, Isolation = !parse.GetValue(noIsolation) }))
                report = await executor.RunAsync(request, ct);
            TestResult r = report.Results[0];
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["verdict"] = r.Verdict.ToName(),
                    ["stdout"] = r.Stdout,
                    ["stderr"] = r.Stderr,
                    ["time_ms"] = Math.Round(r.TimeMs, 3),
                    ["expected"] = r.Expected,
                    ["actual"] = r.Verdict == Verdict.WrongAnswer ? r.Actual : null,
                    ["error"] = r.Error,
                }, ReadableJson.Options));
            else
                PrintHuman(r);
            return r.Verdict == Verdict.Passed ? 0 : 1;
        });
        return command;
    }

    private static void PrintHuman(TestResult r)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"verdict: {r.Verdict.ToName()} ({r.TimeMs:0.#} ms)"));
        if (r.Error is { Length: > 0 })
            Console.WriteLine($"error:\n{r.Error}");
        if (r.Verdict == Verdict.WrongAnswer)
            Console.WriteLine($"expected:\n{r.Expected}");
        if (r.Stdout.Length > 0)
            Console.WriteLine($"stdout:\n{r.Stdout.TrimEnd('\n')}");
        if (r.Stderr.Length > 0 && r.Stderr.Trim() != r.Error?.Trim())
            Console.WriteLine($"stderr:\n{r.Stderr.TrimEnd('\n')}");
    }
}
