using Rlef.Benchmarks.Sandbox;
using Rlef.Sandbox;
using Rlef.Serving.Hosting;
using Rlef.Serving.Sandbox;

namespace Rlef.Benchmarks.Tests;

// The benchmark API that `rlef bench sandbox --url` calls, on a small batch against a real service: every row runs
// every test it should, HTTP and in-process agree test by test, and the rates are finite (no timing asserts).
public class ServiceBenchmarkTests
{
    [Fact]
    public async Task MeasuresRunTestsAndRunCodeAgainstTheInProcessPool()
    {
        await using var service = SandboxService.Create(new ServerOptions { Listen = ListenAddress.Loopback(0) },
            new SandboxServerOptions { Pool = new SandboxOptions { Workers = 1 } });
        await service.StartAsync(null);
        var batch = BenchBatch.Build(jobsPerProgram: 1, testsPerJob: 2, seed: 7);
        var result = await ServiceBenchmark.RunAsync(service.Host.BaseAddress!, token: null, batch, isolation: true, _ => { }, CancellationToken.None);

        Assert.Equal(1, result.Workers);
        Assert.Equal(0, result.Disagreements);
        int tests = batch.Sum(j => j.Request.Tests.Count);
        int singles = batch.Where(j => j.Request.Tests.All(t => t.Kind != TestKind.Call)).Sum(j => j.Request.Tests.Count);
        Assert.True(singles < tests, "the batch has call tests, which /run_code cannot express");
        foreach (var (row, expected) in new[] { (result.InProcessJobs, tests), (result.RunTests, tests), (result.InProcessPerTest, singles), (result.RunCode, singles) })
        {
            Assert.Equal(expected, row.Tests);
            Assert.Equal(0, row.NotPassed);
            Assert.True(row.P50Ms > 0 && row.P99Ms >= row.P50Ms && double.IsFinite(row.TestsPerSecond) && row.TestsPerSecond > 0, $"{row}");
        }
    }
}
