using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Sandbox;

/// <summary>
/// Runs one request's tests on one worker and turns the runner's raw results into verdicts. The runner never
/// sees expected outputs or values: all comparison happens here, on the host.
/// </summary>
internal static class JobRunner
{
    /// <summary>Marker appended to output cut at the output limit.</summary>
    public const string TruncationMarker = "\n[output truncated: limit of {0} bytes reached]";

    /// <summary>Grace beyond the test's own wall limit before the host gives up on a silent worker.</summary>
    private static readonly TimeSpan ReplyGrace = TimeSpan.FromSeconds(15);

    /// <summary>Test data (characters) per request: the worker holds a whole request in memory, inside its cap.</summary>
    private const int BatchChars = 1 << 20;

    /// <summary>
    /// Continues <paramref name="results"/> (results.Count = the first test still to run) on this worker.
    /// Returns whether the worker should be recycled. Throws <see cref="WorkerFailedException"/> on infrastructure
    /// failures; the results gathered so far stay valid.
    /// </summary>
    public static async Task<bool> RunAsync(WorkerProcess worker, ExecutionRequest request, SandboxLaunch launch,
        List<TestResult> results, CancellationToken cancellationToken)
    {
        var limits = request.Limits;
        var job = new JsonObject
        {
            ["op"] = "job",
            ["code"] = request.Code,
            ["limits"] = new JsonObject
            {
                ["cpu"] = limits.CpuTimeSeconds,
                ["wall"] = limits.WallTimeSeconds,
                ["mem"] = (long)limits.MemoryMb << 20,
                ["out"] = limits.OutputBytes,
                ["fsize"] = limits.MaxFileBytes,
                ["nproc"] = launch.ProcessLimitEnforced ? limits.MaxProcesses : 0,
            },
        };
        try
        {
            worker.Cgroup?.SetLimits(WorkerProcess.WorkerMemoryBytes(launch, limits), WorkerProcess.WorkerProcesses(limits));
        }
        catch (IOException e)
        {
            throw new WorkerFailedException($"could not set the worker's cgroup limits: {e.Message}");
        }
        JsonElement compiled = await worker.CallAsync(job, TimeSpan.FromSeconds(60), cancellationToken);
        worker.JobsDone++;
        if (compiled.TryGetProperty("syntax_error", out var syntax))
        {
            // The program never runs: every test not yet run gets the same syntax_error (only the first one when
            // stopping at the first failure).
            string message = syntax.GetString() ?? "SyntaxError";
            do
                results.Add(new TestResult { Verdict = Verdict.SyntaxError, Error = message });
            while (!request.StopAtFirstFailure && results.Count < request.Tests.Count);
            return false;
        }
        if (!compiled.TryGetProperty("ok", out _))
            throw new WorkerFailedException($"unexpected reply to job: {compiled}");

        bool recycle = false;
        TimeSpan replyTimeout = TimeSpan.FromSeconds(limits.WallTimeSeconds) + ReplyGrace;
        while (results.Count < request.Tests.Count)
        {
            // Several tests per request: the worker runs them back to back while the host judges each reply.
            // Stopping at the first failure sends one at a time (a test after a failure must not run).
            int first = results.Count, count = 0;
            long bytes = 0;
            var tests = new JsonArray();
            do
            {
                TestCase t = request.Tests[first + count];
                bytes += (t.InputBytes?.Length ?? t.Input.Length) + (t.ArgumentsJson?.Length ?? 0) + (t.AssertSource?.Length ?? 0);
                tests.Add(TestMessage(t));
                count++;
            }
            while (!request.StopAtFirstFailure && first + count < request.Tests.Count && bytes < BatchChars);
            long sent = Stopwatch.GetTimestamp(), previous = sent;
            await worker.SendAsync(new JsonObject { ["op"] = "tests", ["tests"] = tests }, cancellationToken);
            for (int i = 0; i < count; i++)
            {
                TestCase test = request.Tests[first + i];
                (JsonElement raw, long now) = await worker.ReceiveAsync(replyTimeout, cancellationToken);
                // From when the worker began this test to when the host had read its reply: the wait behind earlier
                // tests of the request does not count, a late read by a busy host does.
                long from = raw.TryGetProperty("started", out var s) && s.TryGetDouble(out double seconds)
                    ? Math.Clamp((long)(seconds * Stopwatch.Frequency), sent, now)
                    : previous;
                double hostMs = Stopwatch.GetElapsedTime(from, now).TotalMilliseconds;
                previous = now;
                string status = raw.GetProperty("status").GetString() ?? "";
                if (status == "infra")
                    throw new WorkerFailedException("sandbox worker: " + Text(raw, "error"));
                recycle |= raw.TryGetProperty("recycle", out var r) && r.GetBoolean();
                TestResult result = WithProcessOutcome(ToResult(test, raw, status, request), raw) with { HostMs = hostMs };
                if (worker.Cgroup != null && worker.Cgroup.NewOomKills(OomKills(raw)) > 0)
                {
                    // The processes of this test together went past the worker's memory cap and the kernel killed one.
                    result = result with { Verdict = Verdict.MemoryLimit, Error = MemoryMessage(limits) };
                    recycle = true;
                }
                results.Add(result);
            }
            if (request.StopAtFirstFailure && results[^1].Verdict != Verdict.Passed)
                break;
        }
        await worker.CallAsync(new JsonObject { ["op"] = "end" }, TimeSpan.FromSeconds(30), cancellationToken);
        return recycle;
    }

    private static JsonObject TestMessage(TestCase test)
    {
        var message = test.Kind switch
        {
            // Bytes that are not UTF-8 cannot be a JSON string: they travel as base64.
            TestKind.Stdio when test.InputBytes is not null =>
                new JsonObject { ["op"] = "test", ["kind"] = "stdio", ["input_b64"] = Convert.ToBase64String(test.InputBytes) },
            TestKind.Stdio => new JsonObject { ["op"] = "test", ["kind"] = "stdio", ["input"] = test.Input },
            TestKind.Call => new JsonObject { ["op"] = "test", ["kind"] = "call", ["entry"] = test.EntryPoint, ["args"] = test.ArgumentsJson },
            TestKind.Assert => new JsonObject { ["op"] = "test", ["kind"] = "assert", ["source"] = test.AssertSource },
            _ => throw new ArgumentOutOfRangeException(nameof(test)),
        };
        if (test.Files is { Count: > 0 } files)
        {
            var encoded = new JsonObject();
            foreach (var (name, content) in files)
                encoded[name] = Convert.ToBase64String(content);
            message["files"] = encoded;
        }
        if (test.FetchFiles is { Count: > 0 } fetch)
            message["fetch"] = new JsonArray([.. fetch.Select(n => (JsonNode?)n)]);
        return message;
    }

    /// <summary>The exit status and fetched files of a finished test process (the runner's exit_code and files).</summary>
    private static TestResult WithProcessOutcome(TestResult result, JsonElement raw)
    {
        int? exitCode = result.Verdict is Verdict.Timeout or Verdict.OutputLimit || !raw.TryGetProperty("exit_code", out var c) ? null : c.GetInt32();
        Dictionary<string, byte[]>? files = null;
        if (raw.TryGetProperty("files", out var f) && f.ValueKind == JsonValueKind.Object)
        {
            files = [];
            foreach (var file in f.EnumerateObject())
                files[file.Name] = Convert.FromBase64String(file.Value.GetString() ?? "");
        }
        return result with { ExitCode = exitCode, Files = files };
    }

    private static TestResult ToResult(TestCase test, JsonElement raw, string status, ExecutionRequest request)
    {
        var limits = request.Limits;
        string stdout = Text(raw, "stdout");
        string stderr = Text(raw, "stderr");
        double timeMs = raw.TryGetProperty("time_ms", out var t) ? t.GetDouble() : 0;
        string error = Text(raw, "error");
        var result = new TestResult { Verdict = Verdict.InfraError, Stdout = stdout, Stderr = stderr, TimeMs = timeMs };
        switch (status)
        {
            case "timeout":
                return result with
                {
                    Verdict = Verdict.Timeout,
                    Error = string.Create(CultureInfo.InvariantCulture, $"time limit exceeded ({limits.WallTimeSeconds:0.###} s wall, {limits.CpuTimeSeconds:0.###} s CPU)"),
                };
            case "output_limit":
                return result with
                {
                    Verdict = Verdict.OutputLimit,
                    Stdout = stdout + string.Format(CultureInfo.InvariantCulture, TruncationMarker, limits.OutputBytes),
                    Error = string.Create(CultureInfo.InvariantCulture, $"output limit of {limits.OutputBytes} bytes exceeded"),
                };
            case "memory":
                return result with { Verdict = Verdict.MemoryLimit, Error = MemoryMessage(limits) };
            case "assertion":
                return result with { Verdict = Verdict.WrongAnswer, Error = error };
            case "exception" or "signal" or "no_result":
                return result with { Verdict = Verdict.RuntimeError, Error = error };
            case "exit":
                return result with { Verdict = Verdict.RuntimeError, Error = stderr.Trim().Length > 0 ? Shorten(stderr.Trim()) + "\n" + error : error };
            case "bad_test":
                return result with { Verdict = Verdict.InfraError, Error = "bad test: " + error };
            case "ok":
                break;
            default:
                throw new WorkerFailedException($"unknown status '{status}' from the sandbox worker");
        }
        switch (test.Kind)
        {
            case TestKind.Stdio:
                if (test.ExpectedOutput == null || OutputComparer.Matches(request.Comparison, test.ExpectedOutput, stdout))
                    return result with { Verdict = Verdict.Passed, Actual = stdout };
                return result with { Verdict = Verdict.WrongAnswer, Expected = test.ExpectedOutput, Actual = stdout };
            case TestKind.Call:
                string value = Text(raw, "value");
                if (test.ExpectedValue == null || ValueComparer.Matches(test.ExpectedValue, value, test.Atol))
                    return result with { Verdict = Verdict.Passed, Actual = value };
                return result with { Verdict = Verdict.WrongAnswer, Expected = test.ExpectedValue, Actual = value };
            default:
                return result with { Verdict = Verdict.Passed };
        }
    }

    private static long OomKills(JsonElement raw) =>
        raw.TryGetProperty("oom_kills", out var n) && n.TryGetInt64(out long total)
            ? total
            : throw new WorkerFailedException("sandbox worker: no oom_kills in a test result although the worker has a memory cgroup");

    private static string MemoryMessage(ExecutionLimits limits) =>
        string.Create(CultureInfo.InvariantCulture, $"memory limit of {limits.MemoryMb} MB exceeded");

    private static string Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : "";

    /// <summary>Same rule as the runner's tracebacks: ≈512 characters, keeping the first and the last lines.</summary>
    internal static string Shorten(string text, int cap = 512)
    {
        if (text.Length <= cap)
            return text;
        string[] lines = text.Split('\n');
        const string marker = "\n  ...\n";
        string head = lines[0].Length <= cap / 3 ? lines[0] : lines[0][..(cap / 3 - 3)] + "...";
        int budget = cap - head.Length - marker.Length;
        var tail = new List<string>();
        int used = 0;
        for (int i = lines.Length - 1; i >= 1; i--)
        {
            if (used + lines[i].Length + 1 > budget)
                break;
            tail.Insert(0, lines[i]);
            used += lines[i].Length + 1;
        }
        if (tail.Count == 0)
            tail.Add(lines[^1][..Math.Max(0, Math.Min(lines[^1].Length, budget - 3))] + "...");
        return head + marker + string.Join('\n', tail);
    }

    /// <summary>Checks what the sandbox cannot: a test that names no entry point or holds an unparsable value.</summary>
    /// <summary>The longest time limit a request may set (a day: beyond it timers overflow and nothing is a test).</summary>
    public const double MaxSeconds = 86_400;

    public static void Validate(ExecutionRequest request)
    {
        ArgumentNullException.ThrowIfNull(request.Code, "ExecutionRequest.Code");
        for (int i = 0; i < request.Tests.Count; i++)
        {
            TestCase t = request.Tests[i];
            string where = $"ExecutionRequest.Tests[{i}]";
            switch (t.Kind)
            {
                case TestKind.Call:
                    if (string.IsNullOrWhiteSpace(t.EntryPoint))
                        throw new ArgumentException($"{where}.EntryPoint: a call test needs the function's name");
                    if (string.IsNullOrWhiteSpace(t.ArgumentsJson))
                        throw new ArgumentException($"{where}.ArgumentsJson: a call test needs a JSON argument list");
                    if (t.ExpectedValue != null && !t.ExpectedValue.StartsWith("<unencodable", StringComparison.Ordinal) && !PythonValue.TryParse(t.ExpectedValue, out _, out string? why))
                        throw new ArgumentException($"{where}.ExpectedValue: not in the runner's value encoding ({why})");
                    break;
                case TestKind.Assert:
                    if (string.IsNullOrWhiteSpace(t.AssertSource))
                        throw new ArgumentException($"{where}.AssertSource: an assert test needs Python statements");
                    break;
            }
            foreach (string name in (t.Files?.Keys ?? []).Concat(t.FetchFiles ?? []))
                if (WorkDirPath.Problem(name) is string problem)
                    throw new ArgumentException($"{where}.Files/FetchFiles: '{name}' {problem}");
        }
        var l = request.Limits;
        // NaN compares false with everything, so the time limits are checked as "inside the range", not "not outside".
        if (!(l.CpuTimeSeconds > 0 && l.CpuTimeSeconds <= MaxSeconds && l.WallTimeSeconds > 0 && l.WallTimeSeconds <= MaxSeconds)
            || l.MemoryMb <= 0 || l.OutputBytes <= 0 || l.MaxProcesses <= 0 || l.MaxFileBytes <= 0)
            throw new ArgumentException($"ExecutionRequest.Limits: every limit must be positive and the time limits at most {MaxSeconds} s ({l})");
    }
}
