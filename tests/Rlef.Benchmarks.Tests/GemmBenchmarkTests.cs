using Rlef.Benchmarks.Engine;
using Rlef.Engine.Kernels;

namespace Rlef.Benchmarks.Tests;

/// <summary>Tests that change process-wide engine settings (thread count) run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineThreadsCollection
{
    public const string Name = "Engine global settings";
}

// The benchmark API that `rlef bench engine` calls: it must run every layout and give finite rates (no timing asserts).
[Collection(EngineThreadsCollection.Name)]
public class GemmBenchmarkTests
{
    [Fact]
    public void MeasuresEveryLayoutAndThePeak()
    {
        var shape = new GemmShape("small", 64, 96, 48);
        foreach (var layout in Enum.GetValues<GemmLayout>())
        {
            var r = GemmBenchmark.Measure(shape, layout, threads: 1, minSeconds: 0.001);
            Assert.True(r.GFlops > 0 && double.IsFinite(r.GFlops) && r.BestGFlops >= r.GFlops, $"{layout}: {r}");
        }
        var peak = GemmBenchmark.MeasurePeak(threads: 1, minSeconds: 0.001, vectorBits: 256);
        Assert.True(peak.WallGFlops > 1 && double.IsFinite(peak.WallGFlops), $"{peak}");
        Assert.Contains(GemmBenchmark.Shapes, s => s is { M: 256, K: 768, N: 50257 });
    }
}
