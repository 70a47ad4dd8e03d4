using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Rlef.Sandbox;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef bench sandbox`: one batch of programs and tests through the baseline (a fresh bubblewrap + Python process
/// per test) and through the warm pool, in one run, with the same parallelism; prints per-test latency and
/// throughput for both and their ratio, and checks that both gave the same verdicts.
/// </summary>
public static class BenchSandboxCommand
{
    public static Command Create()
    {
        var workers = new Option<int>("--workers") { Description = "Parallel sandboxes for both executors (default: one per core).", DefaultValueFactory = _ => System.Environment.ProcessorCount };
        var jobsPerProgram = new Option<int>("--jobs-per-program") { Description = "Jobs (requests) per program in the batch.", DefaultValueFactory = _ => 4 };
        var testsPerJob = new Option<int>("--tests-per-job") { Description = "Tests per job.", DefaultValueFactory = _ => 10 };
        var programs = new Option<string?>("--programs") { Description = "Only these programs of the batch, comma-separated (trivial, sort, lis, sieve, call, assert; default: all)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (warm_p50_ms, warm_tests_per_s, baseline_p50_ms, baseline_tests_per_s, speedup, ...)." };
        var command = new Command("sandbox", "Compare the warm sandbox pool with one fresh bubblewrap+python process per test on the same batch " +
            "(a trivial program and realistic ones: sorting, LIS, a sieve, a function-call test, assert tests).")
        {
            workers, jobsPerProgram, testsPerJob, programs, json,
        };
        command.SetAction(async (parse, ct) =>
        {
            int w = parse.GetValue(workers), jp = parse.GetValue(jobsPerProgram), tj = parse.GetValue(testsPerJob);
            if (w < 1 || jp < 1 || tj < 1)
            {
                Console.Error.WriteLine("rlef bench sandbox: --workers, --jobs-per-program and --tests-per-job must be at least 1");
                return 2;
            }
            try
            {
                return await RunAsync(w, jp, tj, parse.GetValue(programs), parse.GetValue(json), ct);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"rlef bench sandbox: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    /// <summary>Host-observed latencies (p50, p95, p50 of the trivial program = pure overhead), the test processes' own
    /// p50 inside the sandbox, and throughput over the whole batch.</summary>
    private sealed record Measurement(double P50Ms, double P95Ms, double TrivialP50Ms, double InSandboxP50Ms, double TestsPerSecond, double Seconds, ExecutionReport[] Reports,
        double HostCpuMsPerTest, double SandboxCpuMsPerTest);

    private static async Task<int> RunAsync(int workers, int jobsPerProgram, int testsPerJob, string? programs, bool json, CancellationToken ct)
    {
        var batch = BenchBatch.Build(jobsPerProgram, testsPerJob, seed: 1234);
        if (programs != null)
        {
            string[] names = programs.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            string[] known = batch.Select(j => j.Program).Distinct().ToArray();
            if (names.FirstOrDefault(n => !known.Contains(n)) is { } unknown)
                throw new InvalidOperationException($"--programs: unknown program '{unknown}' (known: {string.Join(", ", known)})");
            batch = batch.Where(j => names.Contains(j.Program)).ToList();
        }
        int tests = batch.Sum(j => j.Request.Tests.Count);
        if (!json)
            AnsiConsole.MarkupLine("[yellow]Timings depend on the machine's load: compare the two rows of one run, not runs on different days.[/]");
        var options = new SandboxOptions { Workers = workers };
        Log(json, $"batch: {batch.Count} jobs, {tests} tests, {workers} workers");

        Measurement baseline;
        await using (var fresh = new FreshProcessExecutor(options))
        {
            await fresh.RunAsync(batch[0].Request with { Tests = batch[0].Request.Tests.Take(1).ToList() }, ct);  // JIT, page cache
            Log(json, "baseline: one fresh bubblewrap+python process per test ...");
            baseline = await MeasureAsync(fresh, batch, ct);
        }
        Measurement warm;
        int started, warmUpPasses = 0;
        // JIT first, on a pool of its own: untimed passes until one compiles no method. Tiered compilation recompiles
        // hot methods on a background thread in stages; after a single pass it still ran through the timed pass and
        // took about half of the host's CPU there (a one-off cost of a fresh process, not a per-test one). Its own
        // pool, because the passes would wear the measured workers down to their recycling (JobsPerWorker).
        await using (var jitPool = new SandboxPool(options))
        {
            long compiled = -1;
            while (warmUpPasses < 10 && System.Runtime.JitInfo.GetCompiledMethodCount() != compiled)
            {
                compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
                await Task.WhenAll(batch.Select(j => jitPool.RunAsync(j.Request, ct)));
                await Task.Delay(200, ct);
                warmUpPasses++;
            }
        }
        await using (var pool = new SandboxPool(options))
        {
            await pool.WarmUpAsync(ct);
            await Task.WhenAll(batch.Select(j => pool.RunAsync(j.Request, ct)));  // untimed pass: worker caches
            Log(json, "warm pool ...");
            warm = await MeasureAsync(pool, batch, ct);
            started = pool.WorkersStarted;
        }

        int warmFailed = Failures(warm), baseFailed = Failures(baseline);
        int disagreements = 0;
        for (int j = 0; j < batch.Count; j++)
            for (int t = 0; t < batch[j].Request.Tests.Count; t++)
                if (warm.Reports[j].Results[t].Verdict != baseline.Reports[j].Results[t].Verdict)
                    disagreements++;
        double speedup = warm.TestsPerSecond / baseline.TestsPerSecond;

        if (json)
        {
            var o = new Dictionary<string, object>
            {
                ["warm_p50_ms"] = R(warm.P50Ms), ["warm_tests_per_s"] = R(warm.TestsPerSecond),
                ["baseline_p50_ms"] = R(baseline.P50Ms), ["baseline_tests_per_s"] = R(baseline.TestsPerSecond),
                ["speedup"] = R(speedup),
                ["warm_p95_ms"] = R(warm.P95Ms), ["baseline_p95_ms"] = R(baseline.P95Ms),
                ["warm_trivial_p50_ms"] = R(warm.TrivialP50Ms), ["baseline_trivial_p50_ms"] = R(baseline.TrivialP50Ms),
                ["warm_in_sandbox_p50_ms"] = R(warm.InSandboxP50Ms), ["baseline_in_sandbox_p50_ms"] = R(baseline.InSandboxP50Ms),
                ["tests"] = tests, ["jobs"] = batch.Count, ["workers"] = workers, ["cores"] = System.Environment.ProcessorCount,
                ["warm_workers_started"] = started, ["warm_up_passes"] = warmUpPasses,
                ["warm_host_cpu_ms_per_test"] = R(warm.HostCpuMsPerTest), ["warm_sandbox_cpu_ms_per_test"] = R(warm.SandboxCpuMsPerTest),
                ["warm_not_passed"] = warmFailed, ["baseline_not_passed"] = baseFailed, ["verdict_disagreements"] = disagreements,
            };
            Console.WriteLine(JsonSerializer.Serialize(o));
        }
        else
        {
            var table = new Table().AddColumns("", "p50 ms/test", "p95 ms/test", "trivial p50 ms", "tests/s", "wall s", "not passed");
            table.AddRow("baseline (fresh sandbox per test)", F(baseline.P50Ms), F(baseline.P95Ms), F(baseline.TrivialP50Ms), F(baseline.TestsPerSecond), F(baseline.Seconds), baseFailed.ToString(CultureInfo.InvariantCulture));
            table.AddRow("warm pool", F(warm.P50Ms), F(warm.P95Ms), F(warm.TrivialP50Ms), F(warm.TestsPerSecond), F(warm.Seconds), warmFailed.ToString(CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"speedup (throughput): {speedup:0.0}x   p50 latency ratio: {baseline.P50Ms / warm.P50Ms:0.0}x   verdict disagreements: {disagreements}   workers started: {started}"));
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"warm pool CPU per test: host {warm.HostCpuMsPerTest:0.000} ms, sandboxes (workers and test processes) {warm.SandboxCpuMsPerTest:0.000} ms"));
            AnsiConsole.WriteLine("Per-test latency is host-observed: warm = from the worker starting the test to the host holding its result; baseline = sandbox start + job + test.");
        }
        return warmFailed == 0 && baseFailed == 0 && disagreements == 0 ? 0 : 1;
    }

    private static async Task<Measurement> MeasureAsync(ICodeExecutor executor, IReadOnlyList<BenchJob> batch, CancellationToken ct)
    {
        using var self = Process.GetCurrentProcess();
        double sandboxCpu = DescendantsCpuSeconds();  // before the host's reading: this walk of /proc is not the pool's
        TimeSpan hostCpu = self.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        ExecutionReport[] reports = await Task.WhenAll(batch.Select(j => executor.RunAsync(j.Request, ct)));
        double seconds = sw.Elapsed.TotalSeconds;
        self.Refresh();
        double hostCpuMs = (self.TotalProcessorTime - hostCpu).TotalMilliseconds;
        double sandboxCpuMs = (DescendantsCpuSeconds() - sandboxCpu) * 1000;
        var all = reports.SelectMany(r => r.Results.Select(x => x.HostMs)).Order().ToArray();
        var trivial = batch.Zip(reports).Where(p => p.First.Program == "trivial").SelectMany(p => p.Second.Results.Select(x => x.HostMs)).Order().ToArray();
        var inSandbox = reports.SelectMany(r => r.Results.Select(x => x.TimeMs)).Order().ToArray();
        return new Measurement(Percentile(all, 0.5), Percentile(all, 0.95), Percentile(trivial, 0.5), Percentile(inSandbox, 0.5), all.Length / seconds, seconds, reports,
            hostCpuMs / all.Length, sandboxCpuMs / all.Length);
    }

    /// <summary>CPU seconds of this process's descendants (the sandboxes: launch chain, workers and, through the
    /// workers' reaped-children times, their test processes), from /proc; 0 where /proc is missing. A process that
    /// ends between two readings takes its time with it, so only compare readings over which the workers live.</summary>
    private static double DescendantsCpuSeconds()
    {
        if (!Directory.Exists("/proc/self"))
            return 0;
        var stats = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
                continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            // Fields after the command's closing parenthesis: state ppid ... utime(12) stime(13) cutime(14) cstime(15).
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (f.Length > 14)
                stats[pid] = (int.Parse(f[1], CultureInfo.InvariantCulture), long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)
                    + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture));
        }
        int self = System.Environment.ProcessId;
        long ticks = 0;
        foreach (var (pid, (_, t)) in stats)
        {
            // A descendant: following parents from it reaches this process.
            int p = stats[pid].Parent;
            for (int depth = 0; depth < 64 && p > 1 && p != self && stats.TryGetValue(p, out var up); depth++)
                p = up.Parent;
            if (p == self)
                ticks += t;
        }
        return ticks / 100.0;  // USER_HZ is 100 on Linux
    }

    private static int Failures(Measurement m) => m.Reports.Sum(r => r.Results.Count(x => x.Verdict != Verdict.Passed));

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double R(double x) => Math.Round(x, 3);
    private static string F(double x) => x.ToString(x >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);

    private static void Log(bool json, string message)
    {
        if (!json)
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
    }
}

/// <summary>One job of the benchmark batch.</summary>
internal sealed record BenchJob(string Program, ExecutionRequest Request);

/// <summary>
/// The benchmark's programs: a trivial one (pure overhead) and realistic competitive-programming and
/// HumanEval-style ones, each with generated tests whose expected answers are computed here independently.
/// </summary>
internal static class BenchBatch
{
    public static List<BenchJob> Build(int jobsPerProgram, int testsPerJob, int seed)
    {
        var rng = new Random(seed);
        var jobs = new List<BenchJob>();
        foreach (var (name, code, comparison, make) in Programs())
            for (int j = 0; j < jobsPerProgram; j++)
                jobs.Add(new BenchJob(name, new ExecutionRequest
                {
                    Code = code,
                    Comparison = comparison,
                    Tests = Enumerable.Range(0, testsPerJob).Select(_ => make(rng)).ToList(),
                }));
        return jobs;
    }

    private static IEnumerable<(string, string, Comparison, Func<Random, TestCase>)> Programs()
    {
        yield return ("trivial", "a, b = map(int, input().split())\nprint(a + b)\n", Comparison.CodeContests, rng =>
        {
            int a = rng.Next(-1_000_000, 1_000_000), b = rng.Next(-1_000_000, 1_000_000);
            return TestCase.Stdio($"{a} {b}\n", I(a + (long)b));
        });
        yield return ("sort", "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nxs = sorted(map(int, data[1:n + 1]))\nprint(' '.join(map(str, xs)))\n",
            Comparison.CodeContests, rng =>
            {
                int[] xs = Enumerable.Range(0, 2000).Select(_ => rng.Next(-1_000_000_000, 1_000_000_000)).ToArray();
                string input = $"{xs.Length}\n{string.Join(' ', xs.Select(I))}\n";
                Array.Sort(xs);
                return TestCase.Stdio(input, string.Join(' ', xs.Select(I)));
            });
        yield return ("lis", "import sys, bisect\ndef main():\n    data = sys.stdin.buffer.read().split()\n    n = int(data[0])\n    tails = []\n" +
            "    for x in map(int, data[1:n + 1]):\n        i = bisect.bisect_left(tails, x)\n        if i == len(tails):\n            tails.append(x)\n        else:\n            tails[i] = x\n" +
            "    print(len(tails))\nmain()\n", Comparison.CodeContests, rng =>
            {
                int[] xs = Enumerable.Range(0, 5000).Select(_ => rng.Next(0, 100_000)).ToArray();
                var tails = new List<int>();
                foreach (int x in xs)
                {
                    int i = tails.BinarySearch(x);
                    if (i < 0) i = ~i;
                    else while (i > 0 && tails[i - 1] == x) i--;
                    if (i == tails.Count) tails.Add(x); else tails[i] = x;
                }
                return TestCase.Stdio($"{xs.Length}\n{string.Join(' ', xs.Select(I))}\n", I(tails.Count));
            });
        yield return ("sieve", "n = int(input())\nsieve = bytearray([1]) * (n + 1)\nsieve[0:2] = b'\\x00\\x00'\nfor i in range(2, int(n ** 0.5) + 1):\n" +
            "    if sieve[i]:\n        sieve[i * i::i] = bytes(len(range(i * i, n + 1, i)))\nprint(sum(sieve))\n", Comparison.CodeContests, rng =>
            {
                int n = rng.Next(50_000, 200_000);
                var composite = new bool[n + 1];
                int count = 0;
                for (int i = 2; i <= n; i++)
                {
                    if (composite[i]) continue;
                    count++;
                    for (long k = (long)i * i; k <= n; k += i) composite[k] = true;
                }
                return TestCase.Stdio($"{n}\n", I(count));
            });
        yield return ("call", "def unique_sorted(xs: list) -> list:\n    return sorted(set(xs))\n", Comparison.CodeContests, rng =>
        {
            int[] xs = Enumerable.Range(0, 300).Select(_ => rng.Next(-500, 500)).ToArray();
            string expected = "[" + string.Join(", ", xs.Distinct().Order().Select(I)) + "]";
            return TestCase.Call("unique_sorted", "[[" + string.Join(", ", xs.Select(I)) + "]]", expected);
        });
        yield return ("assert", "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n", Comparison.CodeContests, rng =>
        {
            int n = rng.Next(50, 400);
            BigInteger a = 0, b = 1;
            for (int i = 0; i < n; i++) (a, b) = (b, a + b);
            return TestCase.Assert($"assert fib({n}) == {a.ToString(CultureInfo.InvariantCulture)}");
        });
    }

    private static string I(long x) => x.ToString(CultureInfo.InvariantCulture);
    private static string I(int x) => x.ToString(CultureInfo.InvariantCulture);
}
