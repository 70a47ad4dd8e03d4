using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Rlef.Sandbox;

namespace Rlef.Training.Tests.Rl;

/// <summary>
/// A test-only executor: one persistent python3 process that exec()s each program with stdin and stdout redirected,
/// then compares the output by the CodeContests rule. No isolation and no limits; it exists because this branch
/// does not have the sandbox yet and the trainer's tests must run real programs quickly. Requests are serialised.
/// </summary>
public sealed class LocalPythonExecutor : ICodeExecutor
{
    const string Worker = """
import sys, io, json, traceback
real_stdout = sys.stdout
for line in sys.stdin:
    req = json.loads(line)
    out = io.StringIO()
    err = ""
    sys.stdin, sys.stdout = io.StringIO(req["input"]), out
    try:
        exec(compile(req["code"], "solution.py", "exec"), {"__name__": "__main__"})
    except SyntaxError as e:
        err = "SyntaxError: " + str(e)
    except BaseException:
        err = traceback.format_exc(limit=-2)
    finally:
        sys.stdout = real_stdout
    real_stdout.write(json.dumps({"stdout": out.getvalue(), "error": err}) + "\n")
    real_stdout.flush()
""";

    readonly Process _process;
    readonly SemaphoreSlim _gate = new(1, 1);

    public LocalPythonExecutor()
    {
        var info = new ProcessStartInfo("python3", ["-u", "-c", Worker])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("cannot start python3");
    }

    public int Runs { get; private set; }

    public static bool Available()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("python3", "--version") { RedirectStandardOutput = true, UseShellExecute = false });
            p!.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
    {
        var results = new List<TestResult>();
        await _gate.WaitAsync(cancellationToken);
        try
        {
            foreach (TestCase test in request.Tests)
            {
                var clock = Stopwatch.StartNew();
                await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(new { code = request.Code, input = test.Input }));
                await _process.StandardInput.FlushAsync(cancellationToken);
                string line = await _process.StandardOutput.ReadLineAsync(cancellationToken) ?? throw new InvalidOperationException("python3 worker exited");
                Runs++;
                using var doc = JsonDocument.Parse(line);
                string stdout = doc.RootElement.GetProperty("stdout").GetString()!;
                string error = doc.RootElement.GetProperty("error").GetString()!;
                Verdict verdict = error.Length > 0 ? (error.StartsWith("SyntaxError", StringComparison.Ordinal) ? Verdict.SyntaxError : Verdict.RuntimeError)
                    : Same(stdout, test.ExpectedOutput ?? "") ? Verdict.Passed : Verdict.WrongAnswer;
                results.Add(new TestResult
                {
                    Verdict = verdict,
                    Stdout = stdout,
                    Expected = verdict == Verdict.WrongAnswer ? test.ExpectedOutput : null,
                    Actual = verdict == Verdict.WrongAnswer ? stdout : null,
                    Error = error.Length > 0 ? error : null,
                    TimeMs = clock.Elapsed.TotalMilliseconds,
                });
            }
        }
        finally
        {
            _gate.Release();
        }
        return new ExecutionReport(results);
    }

    /// <summary>RLEF.md §1: whitespace tokens, lower-cased; numbers within 1e-5 when either is a float.</summary>
    static bool Same(string actual, string expected)
    {
        string[] a = actual.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        string[] e = expected.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (a.Length != e.Length) return false;
        for (int i = 0; i < a.Length; i++)
        {
            if (string.Equals(a[i], e[i], StringComparison.OrdinalIgnoreCase)) continue;
            bool floats = a[i].Contains('.') || e[i].Contains('.');
            if (!floats || !double.TryParse(a[i], CultureInfo.InvariantCulture, out double x) || !double.TryParse(e[i], CultureInfo.InvariantCulture, out double y)
                || Math.Abs(x - y) >= 1e-5) return false;
        }
        return true;
    }

    public ValueTask DisposeAsync()
    {
        try { _process.StandardInput.Close(); _process.WaitForExit(2000); } catch (InvalidOperationException) { }
        _process.Dispose();
        _gate.Dispose();
        return ValueTask.CompletedTask;
    }
}
