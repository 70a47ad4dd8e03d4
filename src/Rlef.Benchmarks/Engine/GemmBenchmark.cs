using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

using Rlef.Engine.Kernels;

namespace Rlef.Benchmarks.Engine;

/// <summary>One product to time: C[M,N] = op(A)·op(B) with inner dimension K.</summary>
public sealed record GemmShape(string Name, int M, int N, int K)
{
    public double Flops => 2.0 * M * N * K;
}

/// <summary>The micro-kernel a vector width selects, as the benchmarks print it.</summary>
public static class GemmKernels
{
    /// <summary>The vector widths whose SGEMM kernels can run here: 512 and 256 with AVX-512, else 256.</summary>
    public static IReadOnlyList<int> Widths => Vector512.IsHardwareAccelerated ? [512, 256] : [256];

    /// <summary>E.g. "packed Vector512 8x48".</summary>
    public static string Name(int vectorBits) => vectorBits == 512
        ? $"packed Vector512 {GemmMicroKernels.Mr512}x{GemmMicroKernels.Nr512}"
        : $"packed Vector256 {GemmMicroKernels.Mr256}x{GemmMicroKernels.Nr256}";

    /// <summary>Whether packing B may use 512-bit instructions (false on AVX2-only machines or with DOTNET_EnableAVX512=0).</summary>
    public static bool Packs512 => GemmPacking.Use512;
}

/// <summary>
/// A timed product: the median and the fastest of several runs. On a shared machine other processes only ever
/// slow a run down, so the fastest run is the better estimate of what the kernel can do; the median is what a
/// caller saw. CpuSeconds is the process CPU time of the fastest-by-CPU run: on an oversubscribed machine,
/// Flops / CpuSeconds · Threads estimates the rate with the cores to ourselves (it hides load imbalance).
/// </summary>
public sealed record GemmMeasurement(GemmShape Shape, GemmLayout Layout, int Threads, double Seconds, double BestSeconds, double CpuSeconds)
{
    public double GFlops => Shape.Flops / Seconds / 1e9;
    public double BestGFlops => Shape.Flops / BestSeconds / 1e9;
    public double CpuGFlops => Shape.Flops / CpuSeconds * Threads / 1e9;
}

/// <summary>
/// The shapes the engine's throughput depends on and a timer for them, so `rlef bench engine` and the GEMM tools
/// report the same figures.
/// </summary>
public static class GemmBenchmark
{
    /// <summary>
    /// GPT-2-124M layer shapes at 256 tokens (B=4, T=64): fused QKV, attention output, MLP up and down, the
    /// LM head, plus the square 1024³ reference shape.
    /// </summary>
    public static IReadOnlyList<GemmShape> Shapes { get; } =
    [
        new("square 1024", 1024, 1024, 1024),
        new("qkv 256x768->2304", 256, 2304, 768),
        new("attn-out 256x768->768", 256, 768, 768),
        new("mlp-up 256x768->3072", 256, 3072, 768),
        new("mlp-down 256x3072->768", 256, 768, 3072),
        new("lm-head 256x768->50257", 256, 50257, 768),
    ];

    /// <summary>
    /// Times one layout of one shape with <paramref name="threads"/> engine threads: one warm-up call, then
    /// repetitions until <paramref name="minSeconds"/> have passed (at least 3); returns the median and fastest
    /// wall times and the least process CPU time of a run.
    /// </summary>
    /// <param name="vectorBits">Which micro-kernel runs: 512 (the AVX-512 kernel, where supported), 256 (the AVX2
    /// kernel, which also covers the 256-bit path on an AVX-512 machine), or null for the engine's own choice.</param>
    /// <param name="prepacked">NT only: B (the weight) packed once before timing (<see cref="PackedWeight"/>), as the
    /// engine's decoding and scoring passes run their linear layers; otherwise every call packs B.</param>
    public static GemmMeasurement Measure(GemmShape shape, GemmLayout layout, int threads, double minSeconds = 0.5, int? vectorBits = null,
        bool prepacked = false)
    {
        var random = new Random(1);
        float[] a = RandomArray(random, (long)shape.M * shape.K);
        float[] b = RandomArray(random, (long)shape.K * shape.N);
        float[] c = new float[(long)shape.M * shape.N];
        int saved = EngineThreads.Degree;
        var savedIsa = Gemm.Isa;
        EngineThreads.Degree = threads;
        Gemm.Isa = vectorBits switch
        {
            null => savedIsa,
            512 when Vector512.IsHardwareAccelerated => GemmIsa.Avx512,
            256 => GemmIsa.Avx2,
            var bits => throw new ArgumentOutOfRangeException(nameof(vectorBits), bits, "512 (where supported) or 256."),
        };
        try
        {
            if (prepacked && layout != GemmLayout.NT) throw new ArgumentException("Only NT products (A·Wᵀ) take a pre-packed weight.", nameof(prepacked));
            var packed = prepacked ? PackedWeight.Pack(b, shape.N, shape.K) : null;
            void Run(GemmLayout layout, float[] a, float[] b, float[] c, GemmShape shape)
            {
                if (packed is null) GemmBenchmark.Run(layout, a, b, c, shape);
                else Gemm.NT(a, packed, c, shape.M);
            }
            Run(layout, a, b, c, shape);
            var times = new List<double>();
            double cpuBest = double.MaxValue;
            var total = Stopwatch.StartNew();
            while (times.Count < 3 || total.Elapsed.TotalSeconds < minSeconds)
            {
                var cpuStart = System.Environment.CpuUsage.TotalTime;
                long start = Stopwatch.GetTimestamp();
                Run(layout, a, b, c, shape);
                times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
                cpuBest = Math.Min(cpuBest, (System.Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds);
            }
            times.Sort();
            return new GemmMeasurement(shape, layout, threads, times[times.Count / 2], times[0], cpuBest);
        }
        finally
        {
            EngineThreads.Degree = saved;
            Gemm.Isa = savedIsa;
        }
    }

    /// <summary>
    /// Measures the fp32 fused multiply-add peak with <paramref name="threads"/> engine threads: each runs
    /// independent FMA chains on registers only (no memory traffic), at the widest vector width available.
    /// Returns the fastest of several rounds in GFLOP/s, the ceiling the GEMM figures are compared against.
    /// </summary>
    public static double MeasurePeakGFlops(int threads, double minSeconds = 0.3) => MeasurePeak(threads, minSeconds).WallGFlops;

    /// <summary>The FMA peak by wall time and, for oversubscribed machines, per CPU-second times the thread count.</summary>
    /// <param name="vectorBits">512 (the default where AVX-512 exists) or 256: comparing the two shows whether the
    /// core executes 512-bit FMAs at full rate or splits them into two 256-bit halves.</param>
    public static (double WallGFlops, double CpuGFlops) MeasurePeak(int threads, double minSeconds = 0.3, int? vectorBits = null)
    {
        const long iterations = 1 << 20;
        int saved = EngineThreads.Degree;
        EngineThreads.Degree = threads;
        try
        {
            int items = threads * 4;
            bool wide = (vectorBits ?? (Vector512.IsHardwareAccelerated ? 512 : 256)) switch
            {
                512 when Vector512.IsHardwareAccelerated => true,
                256 => false,
                var bits => throw new ArgumentOutOfRangeException(nameof(vectorBits), bits, "512 (where supported) or 256."),
            };
            double flopsPerItem = iterations * FmaChains * 2.0 * (wide ? 16 : 8);
            float sink = 0;
            EngineThreads.For(items, _ => sink += FmaLoop(1, wide));
            double best = double.MaxValue, cpuBest = double.MaxValue;
            var total = Stopwatch.StartNew();
            do
            {
                var cpuStart = System.Environment.CpuUsage.TotalTime;
                long start = Stopwatch.GetTimestamp();
                EngineThreads.For(items, _ => sink += FmaLoop(iterations, wide));
                best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
                cpuBest = Math.Min(cpuBest, (System.Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds);
            } while (total.Elapsed.TotalSeconds < minSeconds);
            GC.KeepAlive(sink);
            double flops = flopsPerItem * items;
            return (flops / best / 1e9, flops / cpuBest * threads / 1e9);
        }
        finally
        {
            EngineThreads.Degree = saved;
        }
    }

    // Enough independent accumulators to cover FMA latency (4 cycles) times the FMA pipes (2) with slack.
    private const int FmaChains = 12;

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static float FmaLoop(long iterations, bool wide)
    {
        if (wide)
        {
            var m = Vector512.Create(0.999999f);
            var x = Vector512.Create(1e-7f);
            Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector512.FusedMultiplyAdd(a0, m, x); a1 = Vector512.FusedMultiplyAdd(a1, m, x);
                a2 = Vector512.FusedMultiplyAdd(a2, m, x); a3 = Vector512.FusedMultiplyAdd(a3, m, x);
                a4 = Vector512.FusedMultiplyAdd(a4, m, x); a5 = Vector512.FusedMultiplyAdd(a5, m, x);
                a6 = Vector512.FusedMultiplyAdd(a6, m, x); a7 = Vector512.FusedMultiplyAdd(a7, m, x);
                a8 = Vector512.FusedMultiplyAdd(a8, m, x); a9 = Vector512.FusedMultiplyAdd(a9, m, x);
                a10 = Vector512.FusedMultiplyAdd(a10, m, x); a11 = Vector512.FusedMultiplyAdd(a11, m, x);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        else
        {
            var m = Vector256.Create(0.999999f);
            var x = Vector256.Create(1e-7f);
            Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Vector256.FusedMultiplyAdd(a0, m, x); a1 = Vector256.FusedMultiplyAdd(a1, m, x);
                a2 = Vector256.FusedMultiplyAdd(a2, m, x); a3 = Vector256.FusedMultiplyAdd(a3, m, x);
                a4 = Vector256.FusedMultiplyAdd(a4, m, x); a5 = Vector256.FusedMultiplyAdd(a5, m, x);
                a6 = Vector256.FusedMultiplyAdd(a6, m, x); a7 = Vector256.FusedMultiplyAdd(a7, m, x);
                a8 = Vector256.FusedMultiplyAdd(a8, m, x); a9 = Vector256.FusedMultiplyAdd(a9, m, x);
                a10 = Vector256.FusedMultiplyAdd(a10, m, x); a11 = Vector256.FusedMultiplyAdd(a11, m, x);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
    }

    /// <summary>Calls the layout's entry point; the operands are laid out as that layout expects.</summary>
    public static void Run(GemmLayout layout, float[] a, float[] b, float[] c, GemmShape s)
    {
        switch (layout)
        {
            case GemmLayout.NN: Gemm.NN(a, b, c, s.M, s.N, s.K); break;
            case GemmLayout.NT: Gemm.NT(a, b, c, s.M, s.N, s.K); break;
            case GemmLayout.TN: Gemm.TN(a, b, c, s.M, s.N, s.K); break;
            default: throw new ArgumentOutOfRangeException(nameof(layout));
        }
    }

    private static float[] RandomArray(Random random, long length)
    {
        var data = new float[length];
        for (long i = 0; i < length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}
