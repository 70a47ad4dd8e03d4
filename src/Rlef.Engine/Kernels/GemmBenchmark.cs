using System.Diagnostics;

namespace Rlef.Engine.Kernels;

public enum GemmLayout { NN, NT, TN }

/// <summary>One product to time: C[M,N] = op(A)·op(B) with inner dimension K.</summary>
public sealed record GemmShape(string Name, int M, int N, int K)
{
    public double Flops => 2.0 * M * N * K;
}

/// <summary>A timed product: the median of several runs.</summary>
public sealed record GemmMeasurement(GemmShape Shape, GemmLayout Layout, int Threads, double Seconds)
{
    public double GFlops => Shape.Flops / Seconds / 1e9;
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
    /// repetitions until <paramref name="minSeconds"/> have passed (at least 3); returns the median.
    /// </summary>
    public static GemmMeasurement Measure(GemmShape shape, GemmLayout layout, int threads, double minSeconds = 0.5)
    {
        var random = new Random(1);
        float[] a = RandomArray(random, (long)shape.M * shape.K);
        float[] b = RandomArray(random, (long)shape.K * shape.N);
        float[] c = new float[(long)shape.M * shape.N];
        int saved = EngineThreads.Degree;
        EngineThreads.Degree = threads;
        try
        {
            Run(layout, a, b, c, shape);
            var times = new List<double>();
            var total = Stopwatch.StartNew();
            while (times.Count < 3 || total.Elapsed.TotalSeconds < minSeconds)
            {
                long start = Stopwatch.GetTimestamp();
                Run(layout, a, b, c, shape);
                times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            times.Sort();
            return new GemmMeasurement(shape, layout, threads, times[times.Count / 2]);
        }
        finally
        {
            EngineThreads.Degree = saved;
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
