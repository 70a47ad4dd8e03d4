using System.Diagnostics;
using System.Text.Json;
using Rlef.Sandbox;

namespace Rlef.Environment.Tests.Synthetic;

/// <summary>
/// Runs solutions with the real python3, unsandboxed: one interpreter per request executes the code once per test
/// with stdin/stdout redirected in-process. Enough to check trusted generated code (references and their mutants)
/// until the sandbox's SandboxPool is merged; then the validator tests can take that instead.
/// Comparison: the CodeContests rule (whitespace-split, lower-cased tokens; numbers within 1e-5 if either is a float).
/// </summary>
public sealed class PythonProcessExecutor(string python) : ICodeExecutor
{
    private const string Harness = """
        import sys, io, json, contextlib, traceback
        request = json.load(sys.stdin)
        code = compile(request["code"], "solution.py", "exec")
        results = []
        for text in request["inputs"]:
            out = io.StringIO()
            sys.stdin = io.StringIO(text)
            error = None
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, {"__name__": "__main__"})
            except SystemExit as e:
                if e.code not in (None, 0):
                    error = "SystemExit: " + str(e.code)
            except BaseException:
                error = traceback.format_exc()
            results.append({"stdout": out.getvalue(), "error": error})
        sys.__stdout__.write(json.dumps(results))
        """;

    /// <summary>The interpreter itself (not a version-manager shim), or null when there is no python3.</summary>
    public static string? FindPython()
    {
        if (System.Environment.GetEnvironmentVariable("RLEF_PYTHON") is { Length: > 0 } configured)
            return configured;
        try
        {
            using var probe = Process.Start(new ProcessStartInfo("python3", ["-c", "import sys; print(sys.executable)"])
            {
                RedirectStandardOutput = true, UseShellExecute = false,
            });
            if (probe == null) return null;
            string path = probe.StandardOutput.ReadToEnd().Trim();
            probe.WaitForExit();
            return probe.ExitCode == 0 && File.Exists(path) ? path : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
    {
        if (request.Tests.Any(t => t.Kind != TestKind.Stdio))
            throw new NotSupportedException("this executor runs stdin/stdout tests only");
        var start = new ProcessStartInfo(python, ["-S", "-I", "-c", Harness])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        var payload = JsonSerializer.Serialize(new { code = request.Code, inputs = request.Tests.Select(t => t.Input).ToList() });
        await process.StandardInput.WriteAsync(payload);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);

        // The whole request gets the sum of the per-test limits: generated programs run in microseconds.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5 + request.Limits.WallTimeSeconds * request.Tests.Count));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return new ExecutionReport(request.Tests.Select(_ => new TestResult { Verdict = Verdict.Timeout }).ToList());
        }
        if (process.ExitCode != 0)
        {
            string error = await stderr;
            var verdict = error.Contains("SyntaxError", StringComparison.Ordinal) ? Verdict.SyntaxError : Verdict.InfraError;
            return new ExecutionReport(request.Tests.Select(_ => new TestResult { Verdict = verdict, Error = error }).ToList());
        }

        using var json = JsonDocument.Parse(await stdout);
        var results = new List<TestResult>();
        foreach (var (test, result) in request.Tests.Zip(json.RootElement.EnumerateArray()))
        {
            string actual = result.GetProperty("stdout").GetString() ?? "";
            string? error = result.GetProperty("error").GetString();
            var verdict = error != null ? Verdict.RuntimeError
                : test.ExpectedOutput == null || CodeContestsEqual(test.ExpectedOutput, actual) ? Verdict.Passed
                : Verdict.WrongAnswer;
            results.Add(new TestResult { Verdict = verdict, Stdout = actual, Actual = actual, Expected = test.ExpectedOutput, Error = error });
        }
        return new ExecutionReport(results);
    }

    /// <summary>RLEF.md §1: token lists equal after lower-casing; two numbers match within 1e-5 if either is a float.</summary>
    public static bool CodeContestsEqual(string expected, string actual)
    {
        var e = expected.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var a = actual.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (e.Length != a.Length) return false;
        for (int i = 0; i < e.Length; i++)
        {
            string x = e[i].ToLowerInvariant(), y = a[i].ToLowerInvariant();
            if (x == y) continue;
            bool isFloat = x.Contains('.') || y.Contains('.');
            if (!(isFloat && double.TryParse(x, out var dx) && double.TryParse(y, out var dy) && Math.Abs(dx - dy) < 1e-5))
                return false;
        }
        return true;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
