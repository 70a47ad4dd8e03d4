namespace Rlef.Sandbox;

// The public vocabulary of the sandbox. Higher layers (Environment, Evaluation, Training) depend on
// these types only; they know nothing of bubblewrap, workers or pipes.

/// <summary>Outcome of one test. JSON / CLI names are the snake_case forms (see <see cref="VerdictNames"/>).</summary>
public enum Verdict
{
    Passed,
    WrongAnswer,
    RuntimeError,
    SyntaxError,
    Timeout,
    MemoryLimit,
    OutputLimit,
    InfraError,
}

public static class VerdictNames
{
    public static string ToName(this Verdict v) => v switch
    {
        Verdict.Passed => "passed",
        Verdict.WrongAnswer => "wrong_answer",
        Verdict.RuntimeError => "runtime_error",
        Verdict.SyntaxError => "syntax_error",
        Verdict.Timeout => "timeout",
        Verdict.MemoryLimit => "memory_limit",
        Verdict.OutputLimit => "output_limit",
        Verdict.InfraError => "infra_error",
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    public static Verdict Parse(string name) => name switch
    {
        "passed" => Verdict.Passed,
        "wrong_answer" => Verdict.WrongAnswer,
        "runtime_error" => Verdict.RuntimeError,
        "syntax_error" => Verdict.SyntaxError,
        "timeout" => Verdict.Timeout,
        "memory_limit" => Verdict.MemoryLimit,
        "output_limit" => Verdict.OutputLimit,
        "infra_error" => Verdict.InfraError,
        _ => throw new FormatException($"unknown verdict '{name}'"),
    };
}

/// <summary>How a stdin/stdout test's actual output is compared with the expected one.</summary>
public enum Comparison
{
    /// <summary>docs/protocol.md §1: whitespace-split tokens, lower-cased; numbers within 1e-5 if either is a float.</summary>
    CodeContests,
    /// <summary>Byte-for-byte equality.</summary>
    Exact,
    /// <summary>Line by line, ignoring trailing whitespace on each line and trailing empty lines.</summary>
    LineWise,
    /// <summary>Value equality with an absolute float tolerance (evalplus style); used by call tests.</summary>
    ValueTolerance,
    /// <summary>LiveCodeBench's stdin rule: stripped lines, equal as text or as lists of decimal numbers.</summary>
    LiveCodeBench,
}

public enum TestKind
{
    /// <summary>Feed <see cref="TestCase.Input"/> on stdin, compare stdout with <see cref="TestCase.ExpectedOutput"/>.</summary>
    Stdio,
    /// <summary>Call <see cref="TestCase.EntryPoint"/> with the JSON argument list, compare the returned value.</summary>
    Call,
    /// <summary>
    /// Run <see cref="TestCase.AssertSource"/> (e.g. `assert f(1) == 2`) after the solution's code. The pass is
    /// reported from inside the program's own process, so code written to subvert the harness (e.g. writing a fake
    /// result to its report pipe) could forge one; where a verdict decides a reward or a score, prefer
    /// <see cref="Call"/> tests, whose returned value is compared on the host.
    /// </summary>
    Assert,
}

/// <summary>One test. Build with the factory methods.</summary>
public sealed record TestCase
{
    public TestKind Kind { get; init; }

    /// <summary>Stdio: the text fed on stdin (as UTF-8).</summary>
    public string Input { get; init; } = "";

    /// <summary>Stdio: the exact bytes fed on stdin, for input that is not valid UTF-8 text; when set, <see cref="Input"/>
    /// is ignored.</summary>
    public byte[]? InputBytes { get; init; }

    /// <summary>Stdio: the expected stdout; null = only capture the output (no comparison).</summary>
    public string? ExpectedOutput { get; init; }

    /// <summary>Call: the function to call.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>Call: the positional arguments as a JSON array (Python's json module reads it: Infinity/NaN allowed).</summary>
    public string? ArgumentsJson { get; init; }

    /// <summary>
    /// Call: the expected return value in the runner's value encoding (exactly the string a previous run put in
    /// <see cref="TestResult.Actual"/>, e.g. when running a canonical solution); null = only capture the value.
    /// </summary>
    public string? ExpectedValue { get; init; }

    /// <summary>Call: absolute tolerance for float comparison (evalplus `atol`); 0 = evalplus default.</summary>
    public double Atol { get; init; }

    /// <summary>Assert: Python statements run after the solution (the solution's names are in scope).</summary>
    public string? AssertSource { get; init; }

    /// <summary>
    /// Files placed in the program's working directory before it starts (relative path → content); null = none.
    /// Paths are relative, without `..`; the work dir's size cap bounds their total.
    /// </summary>
    public IReadOnlyDictionary<string, byte[]>? Files { get; init; }

    /// <summary>Files of the working directory returned after the test in <see cref="TestResult.Files"/> (regular
    /// files only, each at most <see cref="ExecutionLimits.MaxFileBytes"/>; missing ones are left out).</summary>
    public IReadOnlyList<string>? FetchFiles { get; init; }

    public static TestCase Stdio(string input, string? expectedOutput) =>
        new() { Kind = TestKind.Stdio, Input = input, ExpectedOutput = expectedOutput };

    /// <summary>A stdio test fed exactly <paramref name="input"/>: byte order marks and invalid UTF-8 included.</summary>
    public static TestCase Stdio(byte[] input, string? expectedOutput) =>
        StrictUtf8.TryDecode(input) is string text
            ? Stdio(text, expectedOutput) // valid UTF-8 round-trips through the text form (a BOM stays U+FEFF)
            : new() { Kind = TestKind.Stdio, InputBytes = input, ExpectedOutput = expectedOutput };

    public static TestCase Call(string entryPoint, string argumentsJson, string? expectedValue, double atol = 0) =>
        new() { Kind = TestKind.Call, EntryPoint = entryPoint, ArgumentsJson = argumentsJson, ExpectedValue = expectedValue, Atol = atol };

    public static TestCase Assert(string source) => new() { Kind = TestKind.Assert, AssertSource = source };
}

/// <summary>The rule for <see cref="TestCase.Files"/> and <see cref="TestCase.FetchFiles"/> paths.</summary>
public static class WorkDirPath
{
    /// <summary>Why <paramref name="name"/> cannot name a file in the program's working directory, or null when it can.</summary>
    public static string? Problem(string name)
    {
        if (name.Length == 0 || name.Length > 255)
            return "must have 1 to 255 characters";
        if (name.StartsWith('/') || name.Contains('\0'))
            return "must be a path relative to the program's working directory, without NUL";
        if (name.Split('/').Any(part => part is "" or "." or ".."))
            return "must not contain empty, '.' or '..' parts";
        return null;
    }
}

/// <summary>Per-test resource limits. Defaults follow docs/protocol.md §1 (10 s, 1 GB).</summary>
public sealed record ExecutionLimits
{
    public double CpuTimeSeconds { get; init; } = 10;
    /// <summary>Wall-clock limit; the whole process tree is killed when it expires.</summary>
    public double WallTimeSeconds { get; init; } = 10;
    public int MemoryMb { get; init; } = 1024;
    public int OutputBytes { get; init; } = 1 << 20;
    public int MaxProcesses { get; init; } = 16;
    public int MaxFileBytes { get; init; } = 16 << 20;
}

public sealed record ExecutionRequest
{
    /// <summary>The solution's Python source (compiled once for all tests).</summary>
    public required string Code { get; init; }
    public required IReadOnlyList<TestCase> Tests { get; init; }
    public Comparison Comparison { get; init; } = Comparison.CodeContests;
    public ExecutionLimits Limits { get; init; } = new();
    /// <summary>Stop after the first test that does not pass (the remaining tests get no result).</summary>
    public bool StopAtFirstFailure { get; init; }
}

/// <summary>Result of one test.</summary>
public sealed record TestResult
{
    public required Verdict Verdict { get; init; }
    public string Stdout { get; init; } = "";
    public string Stderr { get; init; } = "";
    /// <summary>Wall time of the test's own process inside the sandbox (fork to exit), in milliseconds.</summary>
    public double TimeMs { get; init; }
    /// <summary>
    /// Latency of this test as the host saw it. <see cref="SandboxPool"/>: a warm worker gets several tests of a job
    /// in one request and runs them back to back; this is the time from when the worker began this test (not
    /// before the request was sent) until the host had its reply.
    /// <see cref="FreshProcessExecutor"/>: the whole fresh sandbox start, job and test. 0 when not measured.
    /// </summary>
    public double HostMs { get; init; }
    /// <summary>Expected output / value (wrong answers).</summary>
    public string? Expected { get; init; }
    /// <summary>Actual output (stdio) or returned value in the runner's encoding (call).</summary>
    public string? Actual { get; init; }
    /// <summary>
    /// Shortened traceback (paths rewritten to solution.py, runner frames removed, ≈512 characters keeping the first
    /// and last lines), "AssertionError: message" for a failed assert test, the compiler's message for syntax_error,
    /// or a short description of the limit that was hit.
    /// </summary>
    public string? Error { get; init; }

    /// <summary>
    /// Exit status of the test's process: its exit code, or minus the signal that killed it; null when the sandbox
    /// stopped it (timeout, output limit) or no process ran (syntax error, infrastructure error).
    /// </summary>
    public int? ExitCode { get; init; }

    /// <summary>The files asked for with <see cref="TestCase.FetchFiles"/> that existed after the test.</summary>
    public IReadOnlyDictionary<string, byte[]>? Files { get; init; }
}

public sealed record ExecutionReport(IReadOnlyList<TestResult> Results)
{
    public bool AllPassed => Results.Count > 0 && Results.All(r => r.Verdict == Verdict.Passed);
}

/// <summary>Anything that runs a program on tests: the warm sandbox pool, or one fresh sandbox per test.</summary>
public interface ICodeExecutor : IAsyncDisposable
{
    Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default);
}

/// <summary>UTF-8 decoding that refuses invalid bytes instead of replacing them.</summary>
public static class StrictUtf8
{
    private static readonly System.Text.UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The text, or null when <paramref name="bytes"/> are not valid UTF-8. A BOM is kept as U+FEFF.</summary>
    public static string? TryDecode(byte[] bytes)
    {
        try { return Encoding.GetString(bytes); }
        catch (System.Text.DecoderFallbackException) { return null; }
    }
}
