using System.Diagnostics;
using System.Globalization;
using Rlef.Sandbox;

namespace Rlef.Benchmarks.Sandbox;

/// <summary>
/// One batch through the baseline (a fresh bubblewrap + Python process per test) and through the warm pool, with the
/// same parallelism, in one run: per-test latency, throughput and CPU per test of both, and whether they agree.
/// </summary>
public static class SandboxBenchmark
{
    /// <summary>Host-observed latencies (p50, p95, p50 of the trivial program = pure overhead), the test processes' own
    /// p50 inside the sandbox, and throughput over the whole batch.</summary>
    public sealed record Measurement(double P50Ms, double P95Ms, double TrivialP50Ms, double InSandboxP50Ms, double TestsPerSecond, double Seconds, ExecutionReport[] Reports,
        double HostCpuMsPerTest, double SandboxCpuMsPerTest);

    /// <summary>Both executors' measurements, the warm pool's workers started, its untimed warm-up passes, and the
    /// tests whose verdicts differ between the two.</summary>
    public sealed record Result(Measurement Baseline, Measurement Warm, int WorkersStarted, int WarmUpPasses, int Disagreements)
    {
        public double Speedup => Warm.TestsPerSecond / Baseline.TestsPerSecond;
    }

    public static async Task<Result> RunAsync(SandboxOptions options, IReadOnlyList<BenchJob> batch, Action<string> log, CancellationToken ct)
    {
        Measurement baseline;
        await using (var fresh = new FreshProcessExecutor(options))
        {
            await fresh.RunAsync(batch[0].Request with { Tests = batch[0].Request.Tests.Take(1).ToList() }, ct);  // JIT, page cache
            log("baseline: one fresh bubblewrap+python process per test ...");
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
            log("warm pool ...");
            warm = await MeasureAsync(pool, batch, ct);
            started = pool.WorkersStarted;
        }

        int disagreements = 0;
        for (int j = 0; j < batch.Count; j++)
            for (int t = 0; t < batch[j].Request.Tests.Count; t++)
                if (warm.Reports[j].Results[t].Verdict != baseline.Reports[j].Results[t].Verdict)
                    disagreements++;
        return new Result(baseline, warm, started, warmUpPasses, disagreements);
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

    public static int Failures(Measurement m) => m.Reports.Sum(r => r.Results.Count(x => x.Verdict != Verdict.Passed));

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
