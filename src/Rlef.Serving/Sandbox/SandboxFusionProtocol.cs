using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Sandbox;

namespace Rlef.Serving.Sandbox;

/// <summary>
/// SandboxFusion's `POST /run_code` (docs/sandbox-service.md, "run_code"): its RunCodeRequest read into one stdio
/// test of the warm pool, and the test's result written back as its RunCodeResponse, so that existing clients
/// (verl's sandbox_fusion reward utilities, …) score our answers exactly as they score SandboxFusion's.
/// </summary>
public static class SandboxFusionProtocol
{
    /// <summary>The languages this sandbox runs (SandboxFusion's names).</summary>
    public static readonly string[] SupportedLanguages = ["python"];

    /// <summary>A parsed RunCodeRequest; <see cref="UnsupportedLanguage"/> is set when the language is not ours.</summary>
    public sealed record RunCode(ExecutionRequest Request, string? UnsupportedLanguage);

    /// <summary>Reads a RunCodeRequest with SandboxFusion's defaults; throws <see cref="WireFormatException"/> naming the field.</summary>
    public static RunCode ReadRequest(JsonNode? body, SandboxServerOptions server)
    {
        if (body is not JsonObject o)
            throw new WireFormatException("body", "must be a JSON object (SandboxFusion's RunCodeRequest)");
        string code = RunTestsWire.RequiredString(o, "code", "code");
        string language = RunTestsWire.RequiredString(o, "language", "language");
        double compileTimeout = RunTestsWire.Number(o, "compile_timeout", "compile_timeout") ?? 10;
        double runTimeout = RunTestsWire.Number(o, "run_timeout", "run_timeout") ?? 10;
        int memoryMb = RunTestsWire.Integer(o, "memory_limit_MB", "memory_limit_MB") ?? -1;
        string? stdin = RunTestsWire.OptionalString(o, "stdin", "stdin");
        var files = RunTestsWire.ReadFiles(o["files"], "files");
        var fetch = RunTestsWire.ReadNames(o["fetch_files"], "fetch_files");

        var max = server.MaxLimits;
        CheckSeconds(compileTimeout, "compile_timeout", max.WallTimeSeconds);  // python compiles inside the run; checked all the same
        CheckSeconds(runTimeout, "run_timeout", max.WallTimeSeconds);
        // SandboxFusion: memory_limit_MB <= 0 means "no limit asked" (its default is -1); here that is the server's default.
        if (memoryMb < -1)
            throw new WireFormatException("memory_limit_MB", $"must be -1 (the default: no limit asked) or a positive number of megabytes (got {memoryMb})");
        if (memoryMb > max.MemoryMb * SandboxServerOptions.AbsurdFactor)
            throw new WireFormatException("memory_limit_MB", $"{memoryMb} MB is absurd (this server allows at most {max.MemoryMb} MB)");
        foreach (string name in ((IEnumerable<string>?)files?.Keys ?? []).Concat(fetch ?? []))
            if (WorkDirPath.Problem(name) is string problem)
                throw new WireFormatException(files?.ContainsKey(name) == true ? "files" : "fetch_files", $"'{name}' {problem}");

        double seconds = Math.Min(runTimeout, max.WallTimeSeconds);
        var limits = server.DefaultLimits with
        {
            CpuTimeSeconds = seconds,
            WallTimeSeconds = seconds,
            MemoryMb = memoryMb <= 0 ? server.DefaultLimits.MemoryMb : Math.Min(memoryMb, max.MemoryMb),
        };
        var test = TestCase.Stdio(stdin ?? "", expectedOutput: null) with { Files = files, FetchFiles = fetch };
        var request = new ExecutionRequest { Code = code, Tests = [test], Limits = limits };
        return new RunCode(request, SupportedLanguages.Contains(language) ? null : language);
    }

    private static void CheckSeconds(double value, string field, double max)
    {
        if (!(value > 0))
            throw new WireFormatException(field, string.Create(CultureInfo.InvariantCulture, $"must be a positive number of seconds (got {value})"));
        if (value > max * SandboxServerOptions.AbsurdFactor)
            throw new WireFormatException(field, string.Create(CultureInfo.InvariantCulture, $"{value} s is absurd (this server allows at most {max} s)"));
    }

    /// <summary>
    /// The RunCodeResponse of one test, mirroring what SandboxFusion reports for `python FILE`: a clean exit is
    /// Success with run_result Finished/0; a crash (exception, syntax error, signal, memory) is Failed with
    /// Finished and a non-zero return_code (minus the signal, as Python's subprocess reports it); a program past
    /// its time is Failed with TimeLimitExceeded and no return_code; a fault of the sandbox itself is
    /// SandboxError with run_result Error. docs/sandbox-service.md has the table.
    /// </summary>
    public static JsonObject WriteResponse(TestResult r)
    {
        string? podName = System.Environment.GetEnvironmentVariable("MY_POD_NAME");
        var files = new JsonObject();
        foreach (var (name, content) in r.Files ?? new Dictionary<string, byte[]>())
            files[name] = Convert.ToBase64String(content);
        double seconds = Math.Round(r.TimeMs / 1000, 6);
        if (r.Verdict == Verdict.InfraError)
            return Response("SandboxError", r.Error ?? "sandbox error", Run("Error", null, null, null, r.Error ?? "sandbox error"), podName, files);
        if (r.Verdict == Verdict.Timeout)
            return Response("Failed", "", Run("TimeLimitExceeded", seconds, null, r.Stdout, r.Stderr), podName, files);
        (int code, string stderr) = r.Verdict switch
        {
            Verdict.Passed or Verdict.WrongAnswer => (r.ExitCode ?? 0, r.Stderr),
            Verdict.SyntaxError => (1, Join(r.Stderr, r.Error)),  // what `python FILE` prints and returns for a SyntaxError
            Verdict.OutputLimit => (r.ExitCode ?? -9, Join(r.Stderr, r.Error)),  // killed by the sandbox (SIGKILL)
            Verdict.MemoryLimit => (NonZero(r.ExitCode), Join(r.Stderr, r.Error)),
            _ => (NonZero(r.ExitCode), r.Stderr.Length > 0 ? r.Stderr : r.Error ?? ""),
        };
        return Response(code == 0 ? "Success" : "Failed", "", Run("Finished", seconds, code, r.Stdout, stderr), podName, files);
    }

    private static int NonZero(int? code) => code is int c && c != 0 ? c : 1;

    private static string Join(string stderr, string? error) =>
        string.IsNullOrEmpty(error) || stderr.Contains(error, StringComparison.Ordinal) ? stderr : stderr.Length == 0 || stderr.EndsWith('\n') ? stderr + error + "\n" : stderr + "\n" + error + "\n";

    private static JsonObject Run(string status, double? seconds, int? returnCode, string? stdout, string? stderr) => new()
    {
        ["status"] = status,
        ["execution_time"] = seconds,
        ["return_code"] = returnCode,
        ["stdout"] = stdout,
        ["stderr"] = stderr,
    };

    private static JsonObject Response(string status, string message, JsonObject runResult, string? podName, JsonObject files) => new()
    {
        ["status"] = status,
        ["message"] = message,
        ["compile_result"] = null,  // python has no compile step in SandboxFusion either
        ["run_result"] = runResult,
        ["executor_pod_name"] = podName,
        ["files"] = files,
    };

    /// <summary>
    /// FastAPI's validation error (HTTP 422) for a field path such as "tests[3].kind":
    /// {"detail": [{"type", "loc": ["body", "tests", 3, "kind"], "msg"}]}.
    /// </summary>
    public static JsonObject ValidationError(string field, string type, string message)
    {
        var loc = new JsonArray("body");
        if (field != "body")
            foreach (string part in field.Split('.'))
            {
                int bracket = part.IndexOf('[');
                loc.Add(bracket < 0 ? part : part[..bracket]);
                for (int i = bracket; i >= 0; i = part.IndexOf('[', i + 1))
                {
                    string index = part[(i + 1)..part.IndexOf(']', i)].Trim('"');
                    loc.Add(int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? JsonValue.Create(n) : JsonValue.Create(index));
                }
            }
        return new JsonObject { ["detail"] = new JsonArray(new JsonObject { ["type"] = type, ["loc"] = loc, ["msg"] = $"{field}: {message}" }) };
    }

    public static string JsonErrorMessage(JsonException e) =>
        $"JSON decode error{(e.LineNumber is long l ? string.Create(CultureInfo.InvariantCulture, $" at line {l + 1}, position {e.BytePositionInLine + 1}") : "")}: {e.Message.Split(" Path:")[0]}";
}
