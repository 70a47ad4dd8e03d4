using Rlef.Engine.Kernels;

namespace Rlef.Engine.Tests.Kernels;

// The fast paths (packed micro-kernels, thin products, threading) against the triple-loop reference.
[Collection(EngineThreadsCollection.Name)]
public class GemmTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 7, 3 }, { 3, 1, 5 }, { 2, 17, 33 }, { 5, 50, 9 }, { 7, 13, 11 },
        { 8, 48, 16 }, { 9, 49, 17 }, { 13, 97, 31 }, { 31, 61, 67 }, { 64, 96, 64 }, { 37, 101, 300 },
        { 97, 53, 259 }, { 130, 200, 20 }, { 16, 3, 40 }, { 40, 5, 16 }, { 4, 300, 50 },
        // Last 6-row panel full (the AVX2 packer's overhanging store at the end of the block), k not a multiple of 8.
        { 48, 40, 27 }, { 36, 64, 70 },
    };

    [Theory]
    [InlineData(48, 40, 27)]
    [InlineData(37, 101, 300)]
    [InlineData(96, 130, 64)]
    public void PackingWithout512BitPathsMatchesReference(int m, int n, int k)
    {
        // What an AVX2-only machine runs: 8×8 transposes and 256-bit copies when packing B.
        var saved = GemmPacking.Use512;
        try
        {
            GemmPacking.Use512 = false;
            foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 })
                foreach (var layout in Enum.GetValues<GemmLayout>())
                    foreach (bool accumulate in new[] { false, true })
                        CheckAgainstReference(isa, layout, m, n, k, accumulate, threads: 2);
        }
        finally
        {
            GemmPacking.Use512 = saved;
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryLayoutMatchesReference(int m, int n, int k)
    {
        foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 })
            foreach (var layout in Enum.GetValues<GemmLayout>())
                foreach (bool accumulate in new[] { false, true })
                    CheckAgainstReference(isa, layout, m, n, k, accumulate, threads: 2);
    }

    [Fact]
    public void SmallCacheBlocksCoverEveryBlockLoop()
    {
        // Blocks smaller than the matrices exercise the KC (k split, accumulate into C), MC and NC loops.
        var saved = (Gemm.KC, Gemm.MC, Gemm.NC);
        try
        {
            (Gemm.KC, Gemm.MC, Gemm.NC) = (20, 16, 96);
            foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 })
                foreach (var layout in Enum.GetValues<GemmLayout>())
                    foreach (bool accumulate in new[] { false, true })
                        CheckAgainstReference(isa, layout, 45, 211, 67, accumulate, threads: 1);
        }
        finally
        {
            (Gemm.KC, Gemm.MC, Gemm.NC) = saved;
        }
    }

    [Fact]
    public void ZeroInnerDimensionClearsOrKeepsC()
    {
        float[] c = [1, 2, 3, 4, 5, 6];
        Gemm.NN([], [], c, 2, 3, 0, accumulate: true);
        Assert.Equal([1, 2, 3, 4, 5, 6], c);
        foreach (var layout in Enum.GetValues<GemmLayout>())
        {
            c = [1, 2, 3, 4, 5, 6];
            Run(layout, [], [], c, 2, 3, 0);
            Assert.All(c, x => Assert.Equal(0f, x));
        }
    }

    [Fact]
    public void MultiThreadedEqualsSingleThreadedBitForBit()
    {
        var random = new Random(7);
        foreach (var (m, n, k) in new[] { (256, 768, 300), (700, 96, 128), (3, 5000, 64), (300, 2, 64) })
            foreach (var layout in Enum.GetValues<GemmLayout>())
            {
                var a = Random(random, m * k);
                var b = Random(random, k * n);
                var one = new float[m * n];
                var two = new float[m * n];
                WithThreads(1, () => Run(layout, a, b, one, m, n, k));
                WithThreads(2, () => Run(layout, a, b, two, m, n, k));
                Assert.Equal(one, two);
            }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PackedWeightGivesTheSameBitsAsPackingEachCall(int m, int n, int k)
    {
        var random = new Random(m * 31 + n * 7 + k);
        var a = Random(random, m * k);
        var w = Random(random, n * k);
        ForEachIsa(() =>
        {
            var packed = PackedWeight.Pack(w, n, k);
            foreach (int threads in new[] { 1, 2 })
                foreach (bool accumulate in new[] { false, true })
                {
                    var expected = Random(new Random(5), m * n);
                    var actual = (float[])expected.Clone();
                    WithThreads(threads, () =>
                    {
                        Gemm.NT(a, w, expected, m, n, k, accumulate);
                        Gemm.NT(a, packed, actual, m, accumulate);
                    });
                    Assert.Equal(expected, actual);
                }
        });
    }

    [Fact]
    public void PackedWeightPackedByTwoThreadsGivesTheSameBits()
    {
        // Large enough that packing splits the weight's panels over the engine threads; 701 rows end in a partial panel.
        var random = new Random(11);
        const int m = 64, n = 701, k = 300;
        var a = Random(random, m * k);
        var w = Random(random, n * k);
        ForEachIsa(() =>
        {
            PackedWeight packed = null!;
            WithThreads(2, () => packed = PackedWeight.Pack(w, n, k));
            var expected = new float[m * n];
            var actual = new float[m * n];
            WithThreads(2, () =>
            {
                Gemm.NT(a, w, expected, m, n, k);
                Gemm.NT(a, packed, actual, m);
            });
            Assert.Equal(expected, actual);
        });
    }

    [Fact]
    public void PackedWeightCoversEveryBlockLoopAndFallsBackWhenTheBlockingChanged()
    {
        var random = new Random(3);
        const int m = 45, n = 211, k = 67;
        var a = Random(random, m * k);
        var w = Random(random, n * k);
        var saved = (Gemm.KC, Gemm.MC, Gemm.NC, Gemm.Isa);
        try
        {
            foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 })
            {
                (Gemm.KC, Gemm.MC, Gemm.NC, Gemm.Isa) = (20, 16, 96, isa);
                var packed = PackedWeight.Pack(w, n, k);
                var expected = new float[m * n];
                var actual = new float[m * n];
                WithThreads(2, () =>
                {
                    Gemm.NT(a, w, expected, m, n, k);
                    Gemm.NT(a, packed, actual, m);
                });
                Assert.Equal(expected, actual);
                // Packed for KC = 20; with another K block the product reads W itself and still gives its bits.
                Gemm.KC = 32;
                WithThreads(2, () =>
                {
                    Gemm.NT(a, w, expected, m, n, k);
                    Gemm.NT(a, packed, actual, m);
                });
                Assert.Equal(expected, actual);
            }
        }
        finally
        {
            (Gemm.KC, Gemm.MC, Gemm.NC, Gemm.Isa) = saved;
        }
    }

    [Fact]
    public void ShortBuffersAreRejectedWithTheDimension()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.NT(new float[5], new float[6], new float[4], 2, 2, 3));
        Assert.Contains("A has 5 elements", e.Message);
    }

    private static void CheckAgainstReference(GemmIsa isa, GemmLayout layout, int m, int n, int k, bool accumulate, int threads)
    {
        var random = new Random(m * 10007 + n * 101 + k);
        var a = Random(random, m * k);
        var b = Random(random, k * n);
        var expected = Random(random, m * n);
        var actual = (float[])expected.Clone();
        Gemm.Reference(a, b, expected, m, n, k, transA: layout == GemmLayout.TN, transB: layout == GemmLayout.NT, accumulate);
        var savedIsa = Gemm.Isa;
        try
        {
            Gemm.Isa = isa;
            WithThreads(threads, () => Run(layout, a, b, actual, m, n, k, accumulate));
        }
        finally
        {
            Gemm.Isa = savedIsa;
        }
        // Summation order differs from the reference; the bound scales with √k times the operand magnitude (≤ 1).
        float tolerance = 1e-5f * (k + 1);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance,
                $"{isa} {layout} m={m} n={n} k={k} acc={accumulate}: C[{i / n},{i % n}] = {actual[i]}, expected {expected[i]}");
    }

    /// <summary>The layout's entry point; the operands are laid out as that layout expects.</summary>
    private static void Run(GemmLayout layout, float[] a, float[] b, float[] c, int m, int n, int k, bool accumulate = false)
    {
        switch (layout)
        {
            case GemmLayout.NN: Gemm.NN(a, b, c, m, n, k, accumulate); break;
            case GemmLayout.NT: Gemm.NT(a, b, c, m, n, k, accumulate); break;
            default: Gemm.TN(a, b, c, m, n, k, accumulate); break;
        }
    }

    // Runs the action once on each kernel path (the 512-bit one runs wherever AVX-512 exists), restoring the path after.
    private static void ForEachIsa(Action action)
    {
        var saved = Gemm.Isa;
        try
        {
            foreach (var isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 })
            {
                Gemm.Isa = isa;
                action();
            }
        }
        finally { Gemm.Isa = saved; }
    }

    private static void WithThreads(int threads, Action action)
    {
        int saved = EngineThreads.Degree;
        EngineThreads.Degree = threads;
        try { action(); }
        finally { EngineThreads.Degree = saved; }
    }

    private static float[] Random(Random random, int length)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}

/// <summary>Tests that change process-wide engine settings (thread count, kernel choice) run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EngineThreadsCollection
{
    public const string Name = "Engine global settings";
}
