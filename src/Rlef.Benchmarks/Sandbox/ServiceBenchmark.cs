using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Rlef.Sandbox;

namespace Rlef.Benchmarks.Sandbox;

/// <summary>
/// The sandbox service against the in-process pool, on the same batch in one run (docs/sandbox-service.md,
/// "Figures"): jobs in-process vs `POST /run_tests` (one request per job), and one test per call in-process vs
/// `POST /run_code` (SandboxFusion's one request per test). Latency per test is what a client sees: a request's
/// round trip divided by its tests. Requests are sent with as many in flight as the server has workers, so that
/// they measure the service, not a queue; the in-process pool gets the same number of workers and requests in flight.
/// The four ways alternate over <see cref="Rounds"/> rounds and each figure is the median of its rounds.
/// </summary>
public static class ServiceBenchmark
{
    public sealed record Row(string Name, double P50Ms, double P99Ms, double TestsPerSecond, double Seconds, int Tests, int NotPassed);

    /// <summary>Both pairs of rows; <see cref="RunCodeTests"/> says which tests /run_code ran (stdio and assert: a call
    /// test has no SandboxFusion form without a wrapper program).</summary>
    public sealed record Result(Row InProcessJobs, Row RunTests, Row InProcessPerTest, Row RunCode, int Workers, int Disagreements)
    {
        public double RunTestsP50AddedMs => RunTests.P50Ms - InProcessJobs.P50Ms;
        public double RunCodeP50AddedMs => RunCode.P50Ms - InProcessPerTest.P50Ms;
    }

    public static async Task<Result> RunAsync(Uri url, string? token, IReadOnlyList<BenchJob> batch, bool isolation, Action<string> log, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/"), Timeout = TimeSpan.FromMinutes(5) };
        if (token != null)
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        JsonNode health;
        try
        {
            health = JsonNode.Parse(await http.GetStringAsync("health", ct))!;
        }
        catch (HttpRequestException e)
        {
            throw new InvalidOperationException($"--url {url}: no sandbox service answers /health ({e.Message})");
        }
        int workers = (int?)health["workers"] ?? throw new InvalidOperationException($"--url {url}: /health does not say how many workers it has");

        // Single tests (for /run_code and its in-process twin): the stdio and assert tests of the batch.
        var singles = batch.Where(j => j.Request.Tests.All(t => t.Kind != TestKind.Call))
            .SelectMany(j => j.Request.Tests.Select(t => j.Request with { Tests = [t] })).ToList();

        await using var pool = new SandboxPool(new SandboxOptions { Workers = workers, Isolation = isolation });
        await pool.WarmUpAsync(ct);
        await using var remote = new RemoteSandboxExecutor([http.BaseAddress!], new RemoteSandboxOptions { Token = token, MaxAttempts = 1 });
        var jobs = batch.Select(j => j.Request).ToList();
        // Untimed passes first: both JITs (tiered compilation needs a few dozen calls per method), worker caches, connections.
        for (int pass = 0; pass < 3; pass++)
        {
            await ForEachAsync(jobs, workers, r => pool.RunAsync(r, ct));
            await ForEachAsync(jobs, workers, r => remote.RunAsync(r, ct));
        }
        await ForEachAsync(singles.Take(Math.Max(60, workers * 8)).ToList(), workers, r => RunCodeAsync(http, r, ct));

        // Rounds alternate the four ways, so that a change of the machine's load hits all of them alike; the medians are reported.
        var rounds = new List<(Row InJobs, Row RunTests, Row InSingles, Row RunCode)>();
        int disagreements = 0;
        for (int round = 1; round <= Rounds; round++)
        {
            log($"round {round}/{Rounds}: in-process jobs, /run_tests, in-process single tests, /run_code ({workers} in flight) ...");
            var (inJobs, localJobs) = await MeasureAsync("in-process pool, one call per job", jobs, workers, r => pool.RunAsync(r, ct));
            var (runTests, httpJobs) = await MeasureAsync("HTTP /run_tests, one request per job", jobs, workers, r => remote.RunAsync(r, ct));
            var (inSingles, localSingles) = await MeasureAsync("in-process pool, one call per test", singles, workers, r => pool.RunAsync(r, ct));
            var (runCode, httpSingles) = await MeasureAsync("HTTP /run_code (SandboxFusion), one request per test", singles, workers, r => RunCodeAsync(http, r, ct));
            rounds.Add((inJobs, runTests, inSingles, runCode));
            disagreements += Disagree(localJobs, httpJobs) + Disagree(localSingles, httpSingles);
        }
        return new Result(Median(rounds.Select(r => r.InJobs)), Median(rounds.Select(r => r.RunTests)),
            Median(rounds.Select(r => r.InSingles)), Median(rounds.Select(r => r.RunCode)), workers, disagreements);
    }

    /// <summary>Alternating rounds per run.</summary>
    public const int Rounds = 5;

    /// <summary>Each figure's median over the rounds.</summary>
    private static Row Median(IEnumerable<Row> rows)
    {
        var all = rows.ToList();
        double M(Func<Row, double> f) => all.Select(f).Order().ElementAt(all.Count / 2);
        return all[0] with
        {
            P50Ms = M(r => r.P50Ms), P99Ms = M(r => r.P99Ms), TestsPerSecond = M(r => r.TestsPerSecond), Seconds = M(r => r.Seconds),
            NotPassed = all.Max(r => r.NotPassed),
        };
    }

    /// <summary>Passed or not, test by test: /run_code reports no verdict, only whether the run matched.</summary>
    private static int Disagree(ExecutionReport[] a, ExecutionReport[] b) =>
        a.Zip(b).Sum(p => p.First.Results.Zip(p.Second.Results).Count(r => (r.First.Verdict == Verdict.Passed) != (r.Second.Verdict == Verdict.Passed)));

    /// <summary>
    /// One test as a SandboxFusion client sends it: stdio → code with stdin, compared here; assert → the code, two
    /// newlines and the assert (verl's assert_case form), passed when the run succeeds.
    /// </summary>
    private static async Task<ExecutionReport> RunCodeAsync(HttpClient http, ExecutionRequest request, CancellationToken ct)
    {
        TestCase t = request.Tests[0];
        var body = new JsonObject
        {
            ["compile_timeout"] = request.Limits.WallTimeSeconds,
            ["run_timeout"] = request.Limits.WallTimeSeconds,
            ["code"] = t.Kind == TestKind.Assert ? request.Code + "\n\n" + t.AssertSource : request.Code,
            ["stdin"] = t.Kind == TestKind.Stdio ? t.Input : "",
            ["memory_limit_MB"] = request.Limits.MemoryMb,
            ["language"] = "python",
            ["files"] = new JsonObject(),
            ["fetch_files"] = new JsonArray(),
        };
        using var response = await http.PostAsync("run_code", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), ct);
        response.EnsureSuccessStatusCode();
        var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        string stdout = (string?)answer["run_result"]?["stdout"] ?? "";
        bool passed = (string?)answer["status"] == "Success" &&
                      (t.Kind != TestKind.Stdio || t.ExpectedOutput == null || OutputComparer.Matches(request.Comparison, t.ExpectedOutput, stdout));
        return new ExecutionReport([new TestResult { Verdict = passed ? Verdict.Passed : Verdict.WrongAnswer, Stdout = stdout }]);
    }

    private static async Task<(Row, ExecutionReport[])> MeasureAsync(string name, List<ExecutionRequest> requests, int inFlight, Func<ExecutionRequest, Task<ExecutionReport>> run)
    {
        var perTestMs = new List<double>();
        var reports = new ExecutionReport[requests.Count];
        var clock = Stopwatch.StartNew();
        await ForEachAsync(requests, inFlight, async (r, i) =>
        {
            long start = Stopwatch.GetTimestamp();
            reports[i] = await run(r);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / r.Tests.Count;
            lock (perTestMs)
                perTestMs.AddRange(Enumerable.Repeat(ms, r.Tests.Count));
        });
        double seconds = clock.Elapsed.TotalSeconds;
        double[] sorted = [.. perTestMs.Order()];
        int notPassed = reports.Sum(r => r.Results.Count(x => x.Verdict != Verdict.Passed));
        return (new Row(name, Percentile(sorted, 0.5), Percentile(sorted, 0.99), sorted.Length / seconds, seconds, sorted.Length, notPassed), reports);
    }

    private static Task ForEachAsync(List<ExecutionRequest> requests, int inFlight, Func<ExecutionRequest, Task<ExecutionReport>> run) =>
        ForEachAsync(requests, inFlight, async (r, _) => await run(r));

    private static async Task ForEachAsync(List<ExecutionRequest> requests, int inFlight, Func<ExecutionRequest, int, Task> run)
    {
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
        {
            for (int i = Interlocked.Increment(ref next); i < requests.Count; i = Interlocked.Increment(ref next))
                await run(requests[i], i);
        }));
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
