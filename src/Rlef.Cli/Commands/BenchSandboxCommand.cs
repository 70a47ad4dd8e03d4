using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Rlef.Benchmarks.Sandbox;
using Rlef.Sandbox;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef bench sandbox`: runs <see cref="SandboxBenchmark"/> on the benchmark batch and prints per-test latency and
/// throughput of the baseline and the warm pool, their ratio, and whether both gave the same verdicts.
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
                throw new UserError("--workers, --jobs-per-program and --tests-per-job must be at least 1");
            return await RunAsync(w, jp, tj, parse.GetValue(programs), parse.GetValue(json), ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int workers, int jobsPerProgram, int testsPerJob, string? programs, bool json, CancellationToken ct)
    {
        var batch = BenchBatch.Build(jobsPerProgram, testsPerJob, seed: 1234);
        if (programs != null)
        {
            string[] names = programs.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            string[] known = batch.Select(j => j.Program).Distinct().ToArray();
            if (names.FirstOrDefault(n => !known.Contains(n)) is { } unknown)
                throw new UserError($"--programs: unknown program '{unknown}' (known: {string.Join(", ", known)})");
            batch = batch.Where(j => names.Contains(j.Program)).ToList();
        }
        int tests = batch.Sum(j => j.Request.Tests.Count);
        if (!json)
            AnsiConsole.MarkupLine("[yellow]Timings depend on the machine's load: compare the two rows of one run, not runs on different days.[/]");
        var options = new SandboxOptions { Workers = workers };
        Log(json, $"batch: {batch.Count} jobs, {tests} tests, {workers} workers");

        var result = await SandboxBenchmark.RunAsync(options, batch, message => Log(json, message), ct);
        var (baseline, warm, started, warmUpPasses) = (result.Baseline, result.Warm, result.WorkersStarted, result.WarmUpPasses);

        int warmFailed = SandboxBenchmark.Failures(warm), baseFailed = SandboxBenchmark.Failures(baseline);
        int disagreements = result.Disagreements;
        double speedup = result.Speedup;

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

    private static double R(double x) => Math.Round(x, 3);
    private static string F(double x) => x.ToString(x >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);

    private static void Log(bool json, string message)
    {
        if (!json)
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
    }
}
