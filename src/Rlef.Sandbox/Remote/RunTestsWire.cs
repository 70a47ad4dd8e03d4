using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Sandbox;

/// <summary>A request body that does not follow the wire format; names the field (JSON path) at fault.</summary>
public sealed class WireFormatException(string field, string reason) : Exception($"{field}: {reason}")
{
    public string Field { get; } = field;
    public string Reason { get; } = reason;
}

/// <summary>
/// The JSON of `POST /run_tests` (docs/sandbox-service.md, "run_tests"): one program, many tests, the project's
/// comparators and verdicts. The server parses requests and writes reports with it; <see cref="RemoteSandboxExecutor"/>
/// does the reverse, so both ends agree by construction.
/// </summary>
public static class RunTestsWire
{
    private static readonly Dictionary<string, Comparison> Comparisons = new()
    {
        ["codecontests"] = Comparison.CodeContests,
        ["exact"] = Comparison.Exact,
        ["line_wise"] = Comparison.LineWise,
        ["value_tolerance"] = Comparison.ValueTolerance,
    };

    public static string ComparisonName(Comparison c) => Comparisons.First(p => p.Value == c).Key;

    // ---- requests ----

    public static JsonObject WriteRequest(ExecutionRequest request) => new()
    {
        ["code"] = request.Code,
        ["tests"] = new JsonArray([.. request.Tests.Select(WriteTest)]),
        ["comparison"] = ComparisonName(request.Comparison),
        ["stop_at_first_failure"] = request.StopAtFirstFailure,
        ["limits"] = new JsonObject
        {
            ["cpu_time_s"] = request.Limits.CpuTimeSeconds,
            ["wall_time_s"] = request.Limits.WallTimeSeconds,
            ["memory_mb"] = request.Limits.MemoryMb,
            ["output_bytes"] = request.Limits.OutputBytes,
            ["max_processes"] = request.Limits.MaxProcesses,
            ["max_file_bytes"] = request.Limits.MaxFileBytes,
        },
    };

    private static JsonNode WriteTest(TestCase t)
    {
        var o = t.Kind switch
        {
            TestKind.Stdio => new JsonObject { ["kind"] = "stdio", ["input"] = t.Input, ["expected_output"] = t.ExpectedOutput },
            TestKind.Call => new JsonObject
            {
                ["kind"] = "call", ["entry_point"] = t.EntryPoint, ["arguments_json"] = t.ArgumentsJson,
                ["expected_value"] = t.ExpectedValue, ["atol"] = t.Atol,
            },
            _ => new JsonObject { ["kind"] = "assert", ["source"] = t.AssertSource },
        };
        if (t.Files is { Count: > 0 })
            o["files"] = new JsonObject(t.Files.Select(f => KeyValuePair.Create(f.Key, (JsonNode?)Convert.ToBase64String(f.Value))));
        if (t.FetchFiles is { Count: > 0 })
            o["fetch_files"] = new JsonArray([.. t.FetchFiles.Select(n => (JsonNode?)n)]);
        return o;
    }

    /// <summary>
    /// Reads a request. Limits left out take <paramref name="defaults"/>; the caller caps them. Throws
    /// <see cref="WireFormatException"/> naming the field.
    /// </summary>
    public static ExecutionRequest ReadRequest(JsonNode? body, ExecutionLimits defaults)
    {
        if (body is not JsonObject o)
            throw new WireFormatException("body", "must be a JSON object");
        string code = RequiredString(o, "code", "code");
        if (o["tests"] is not JsonArray tests)
            throw new WireFormatException("tests", o.ContainsKey("tests") ? "must be an array" : "is required");
        var cases = new List<TestCase>(tests.Count);
        for (int i = 0; i < tests.Count; i++)
            cases.Add(ReadTest(tests[i], $"tests[{i}]"));
        Comparison comparison = Comparison.CodeContests;
        if (OptionalString(o, "comparison", "comparison") is string c && !Comparisons.TryGetValue(c, out comparison))
            throw new WireFormatException("comparison", $"'{c}' is not one of {string.Join(", ", Comparisons.Keys)}");
        bool stop = o["stop_at_first_failure"] switch
        {
            null => false,
            JsonValue v when v.TryGetValue(out bool b) => b,
            _ => throw new WireFormatException("stop_at_first_failure", "must be true or false"),
        };
        var limits = defaults;
        if (o["limits"] is JsonObject l)
            limits = new ExecutionLimits
            {
                CpuTimeSeconds = Number(l, "cpu_time_s", "limits.cpu_time_s") ?? defaults.CpuTimeSeconds,
                WallTimeSeconds = Number(l, "wall_time_s", "limits.wall_time_s") ?? defaults.WallTimeSeconds,
                MemoryMb = Integer(l, "memory_mb", "limits.memory_mb") ?? defaults.MemoryMb,
                OutputBytes = Integer(l, "output_bytes", "limits.output_bytes") ?? defaults.OutputBytes,
                MaxProcesses = Integer(l, "max_processes", "limits.max_processes") ?? defaults.MaxProcesses,
                MaxFileBytes = Integer(l, "max_file_bytes", "limits.max_file_bytes") ?? defaults.MaxFileBytes,
            };
        else if (o["limits"] != null)
            throw new WireFormatException("limits", "must be an object");
        return new ExecutionRequest { Code = code, Tests = cases, Comparison = comparison, StopAtFirstFailure = stop, Limits = limits };
    }

    private static TestCase ReadTest(JsonNode? node, string at)
    {
        if (node is not JsonObject t)
            throw new WireFormatException(at, "must be an object");
        string kind = RequiredString(t, "kind", at + ".kind");
        TestCase test = kind switch
        {
            "stdio" => TestCase.Stdio(OptionalString(t, "input", at + ".input") ?? "", OptionalString(t, "expected_output", at + ".expected_output")),
            "call" => TestCase.Call(RequiredString(t, "entry_point", at + ".entry_point"), RequiredString(t, "arguments_json", at + ".arguments_json"),
                OptionalString(t, "expected_value", at + ".expected_value"), Number(t, "atol", at + ".atol") ?? 0),
            "assert" => TestCase.Assert(RequiredString(t, "source", at + ".source")),
            _ => throw new WireFormatException(at + ".kind", $"'{kind}' is not one of stdio, call, assert"),
        };
        return test with { Files = ReadFiles(t["files"], at + ".files"), FetchFiles = ReadNames(t["fetch_files"], at + ".fetch_files") };
    }

    /// <summary>A map of relative path → base64 content (null values are skipped, as SandboxFusion does).</summary>
    public static Dictionary<string, byte[]>? ReadFiles(JsonNode? node, string at)
    {
        if (node == null)
            return null;
        if (node is not JsonObject files)
            throw new WireFormatException(at, "must be an object mapping file paths to base64 content");
        var result = new Dictionary<string, byte[]>();
        foreach (var (name, value) in files)
        {
            if (value == null)
                continue;
            if (value.GetValueKind() != JsonValueKind.String)
                throw new WireFormatException($"{at}[\"{name}\"]", "must be base64 text or null");
            try
            {
                result[name] = Convert.FromBase64String(value.GetValue<string>());
            }
            catch (FormatException)
            {
                throw new WireFormatException($"{at}[\"{name}\"]", "is not valid base64");
            }
        }
        return result.Count > 0 ? result : null;
    }

    public static List<string>? ReadNames(JsonNode? node, string at)
    {
        if (node == null)
            return null;
        if (node is not JsonArray names || names.Any(n => n?.GetValueKind() != JsonValueKind.String))
            throw new WireFormatException(at, "must be an array of file paths");
        return names.Count > 0 ? [.. names.Select(n => n!.GetValue<string>())] : null;
    }

    // ---- reports ----

    public static JsonObject WriteReport(ExecutionReport report) => new()
    {
        ["all_passed"] = report.AllPassed,
        ["results"] = new JsonArray([.. report.Results.Select(r => (JsonNode)new JsonObject
        {
            ["verdict"] = r.Verdict.ToName(),
            ["stdout"] = r.Stdout,
            ["stderr"] = r.Stderr,
            ["time_ms"] = Math.Round(r.TimeMs, 3),
            ["host_ms"] = Math.Round(r.HostMs, 3),
            ["exit_code"] = r.ExitCode,
            ["expected"] = r.Expected,
            ["actual"] = r.Actual,
            ["error"] = r.Error,
            ["files"] = r.Files is { } f ? new JsonObject(f.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Convert.ToBase64String(p.Value)))) : null,
        })]),
    };

    /// <summary>Reads a report written by <see cref="WriteReport"/>; throws <see cref="WireFormatException"/>.</summary>
    public static ExecutionReport ReadReport(JsonNode? body)
    {
        if (body?["results"] is not JsonArray results)
            throw new WireFormatException("results", "missing from the sandbox's reply");
        var list = new List<TestResult>(results.Count);
        for (int i = 0; i < results.Count; i++)
        {
            string at = $"results[{i}]";
            if (results[i] is not JsonObject r)
                throw new WireFormatException(at, "must be an object");
            Verdict verdict;
            try
            {
                verdict = VerdictNames.Parse(RequiredString(r, "verdict", at + ".verdict"));
            }
            catch (FormatException e)
            {
                throw new WireFormatException(at + ".verdict", e.Message);
            }
            list.Add(new TestResult
            {
                Verdict = verdict,
                Stdout = OptionalString(r, "stdout", at + ".stdout") ?? "",
                Stderr = OptionalString(r, "stderr", at + ".stderr") ?? "",
                TimeMs = Number(r, "time_ms", at + ".time_ms") ?? 0,
                HostMs = Number(r, "host_ms", at + ".host_ms") ?? 0,
                ExitCode = Integer(r, "exit_code", at + ".exit_code"),
                Expected = OptionalString(r, "expected", at + ".expected"),
                Actual = OptionalString(r, "actual", at + ".actual"),
                Error = OptionalString(r, "error", at + ".error"),
                Files = ReadFiles(r["files"], at + ".files"),
            });
        }
        return new ExecutionReport(list);
    }

    // ---- fields ----

    public static string RequiredString(JsonObject o, string name, string at) =>
        OptionalString(o, name, at) ?? throw new WireFormatException(at, "is required");

    public static string? OptionalString(JsonObject o, string name, string at) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new WireFormatException(at, "must be a string"),
    };

    public static double? Number(JsonObject o, string name, string at) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && double.IsFinite(v.GetValue<double>()) => v.GetValue<double>(),
        _ => throw new WireFormatException(at, "must be a number"),
    };

    /// <summary>An integer field; a float with no fraction (1024.0) is accepted, as pydantic does.</summary>
    public static int? Integer(JsonObject o, string name, string at)
    {
        double? d = Number(o, name, at);
        if (d == null)
            return null;
        if (d != Math.Floor(d.Value) || d < int.MinValue || d > int.MaxValue)
            throw new WireFormatException(at, string.Create(CultureInfo.InvariantCulture, $"must be a whole number that fits in 32 bits (got {d})"));
        return (int)d.Value;
    }
}
