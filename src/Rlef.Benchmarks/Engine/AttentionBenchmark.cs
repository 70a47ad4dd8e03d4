using System.Diagnostics;
using System.Runtime.Intrinsics;
using Rlef.Engine.Kernels;
using Rlef.Engine.Layers;
using Rlef.Engine.Model;

namespace Rlef.Benchmarks.Engine;

/// <summary>One attention shape: B sequences of T tokens, query and key/value heads, head dim.</summary>
public sealed record AttentionShape(string Name, int Batch, int Seq, int Heads, int KvHeads, int HeadDim)
{
    /// <summary>
    /// FLOP of one causal pass over this shape: Q·Kᵀ and P·V over the B·H·T(T+1)/2 visible (query, key) pairs, 2·d each;
    /// the backward has five such products (Q·Kᵀ recomputed, dOut·Vᵀ, Pᵀ·dOut, dSᵀ·Q, dS·K).
    /// </summary>
    public double Flops(string pass) =>
        (double)Batch * Heads * (Seq * (Seq + 1) / 2.0) * HeadDim * 2 * (pass == "backward" ? 5 : 2);
}

/// <summary>
/// Median milliseconds of each attention kernel on one shape and pass, by wall clock and by process CPU time (less
/// sensitive to other processes taking the cores; it counts all threads): the row kernels (one dot product per
/// score, the former implementation), the 256-bit (AVX2) tiles, and the 512-bit tiles where the CPU has AVX-512.
/// </summary>
public sealed record AttentionTiming(AttentionShape Shape, string Pass, double RowsMs, double Tiles256Ms, double Tiles512Ms,
    double RowsCpuMs, double Tiles256CpuMs, double Tiles512CpuMs, int Rounds)
{
    /// <summary>The tiles the engine uses on this machine (512-bit where available).</summary>
    public double TilesMs => double.IsNaN(Tiles512Ms) ? Tiles256Ms : Tiles512Ms;
    public double TilesCpuMs => double.IsNaN(Tiles512CpuMs) ? Tiles256CpuMs : Tiles512CpuMs;
    public double Speedup => RowsMs / TilesMs;
    public double CpuSpeedup => RowsCpuMs / TilesCpuMs;
}

/// <summary>
/// Times <see cref="Attention"/>'s kernels on the training shapes that matter: the miniature policy (d = 32, GQA 6/2)
/// and a GPT-2-like layer (d = 64, 12 heads), one layer's forward and backward. The kernels alternate within one loop,
/// so load from other processes on a shared machine hits them alike.
/// </summary>
public static class AttentionBenchmark
{
    public static IReadOnlyList<AttentionShape> Shapes { get; } =
    [
        new("mini B8 T512 H6/2 d32", 8, 512, 6, 2, 32),
        new("gpt2 B4 T256 H12 d64", 4, 256, 12, 12, 64),
    ];

    /// <summary>Forward and backward timings of every shape, each pass alternating the kernels for at least minSeconds (≥ 3 rounds).</summary>
    public static IReadOnlyList<AttentionTiming> Measure(int threads, double minSeconds = 1, Action<string>? progress = null)
    {
        int saved = EngineThreads.Degree;
        EngineThreads.Degree = threads;
        try
        {
            var results = new List<AttentionTiming>();
            foreach (var s in Shapes)
            {
                var rng = new Random(1);
                int b = s.Batch, t = s.Seq, h = s.Heads, kvh = s.KvHeads, d = s.HeadDim;
                float[] q = RandomArray(rng, b * t * h * d), k = RandomArray(rng, b * t * kvh * d), v = RandomArray(rng, b * t * kvh * d);
                float[] dOut = RandomArray(rng, b * t * h * d), output = new float[q.Length], lse = new float[b * h * t];
                float[] dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
                var scratch = new float[Attention.ScratchSize(b, t, t, h, kvh, d)];
                progress?.Invoke($"attention {s.Name}, forward…");
                results.Add(Alternate(s, "forward", minSeconds, () => Attention.Forward(output, lse, q, k, v, b, t, 0, t, h, kvh, d, null, scratch)));
                progress?.Invoke($"attention {s.Name}, backward…");
                results.Add(Alternate(s, "backward", minSeconds, () => Attention.Backward(dq, dk, dv, dOut, q, k, v, output, lse, b, t, h, kvh, d, null, scratch)));
            }
            results.Add(MeasureMiniStep(minSeconds, progress));
            return results;
        }
        finally
        {
            EngineThreads.Degree = saved;
            Use(Kernel.Default);
        }
    }

    private enum Kernel { Rows, Tiles256, Tiles512, Default }

    private static void Use(Kernel kernel)
    {
        Attention.ForceRowKernels = kernel == Kernel.Rows;
        Attention.ForceVector256 = kernel == Kernel.Tiles256;
    }

    // A training step (log-prob forward and backward, every position scored) of the miniature policy's architecture:
    // what the kernels change for a whole PPO/SFT update, where the layers around attention cost the same either way.
    private static AttentionTiming MeasureMiniStep(double minSeconds, Action<string>? progress)
    {
        var shape = new AttentionShape("mini model 4L B8 T512", 8, 512, 6, 2, 32);
        var config = LlamaConfig.Create(vocabSize: 2048, hiddenSize: 192, layers: 4, heads: 6, kvHeads: 2, intermediateSize: 512, maxPositions: 1024);
        var model = LlamaModel.CreateRandom(config, seed: 1);
        int n = shape.Batch * shape.Seq;
        var rng = new Random(2);
        var tokens = new int[n]; var targets = new int[n];
        for (int i = 0; i < n; i++) { tokens[i] = rng.Next(config.VocabSize); targets[i] = rng.Next(config.VocabSize); }
        var logp = new float[n];
        var dLogp = new float[n];
        Array.Fill(dLogp, -1f / n);
        progress?.Invoke($"attention {shape.Name}, train step…");
        return Alternate(shape, "train step", minSeconds, () =>
        {
            model.ZeroGrad();
            model.ForwardLogProbs(tokens, targets, shape.Batch, shape.Seq, logp);
            model.BackwardLogProbs(dLogp);
        });
    }

    private static AttentionTiming Alternate(AttentionShape shape, string pass, double minSeconds, Action run)
    {
        Kernel[] kernels = Vector512.IsHardwareAccelerated ? [Kernel.Rows, Kernel.Tiles256, Kernel.Tiles512] : [Kernel.Rows, Kernel.Tiles256];
        var wall = kernels.Select(_ => new List<double>()).ToArray();
        var cpu = kernels.Select(_ => new List<double>()).ToArray();
        foreach (var kernel in kernels) { Use(kernel); run(); } // warm-up: JIT and caches
        var total = Stopwatch.StartNew();
        while (wall[0].Count < 3 || total.Elapsed.TotalSeconds < minSeconds)
            for (int i = 0; i < kernels.Length; i++)
            {
                Use(kernels[i]);
                Time(run, wall[i], cpu[i]);
            }
        Use(Kernel.Default);
        double At(List<double>[] x, int i) => i < x.Length ? Median(x[i]) : double.NaN;
        return new AttentionTiming(shape, pass, At(wall, 0), At(wall, 1), At(wall, 2), At(cpu, 0), At(cpu, 1), At(cpu, 2), wall[0].Count);
    }

    private static void Time(Action run, List<double> wall, List<double> cpu)
    {
        var cpuStart = System.Environment.CpuUsage.TotalTime;
        long start = Stopwatch.GetTimestamp();
        run();
        wall.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        cpu.Add((System.Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds);
    }

    private static double Median(List<double> x)
    {
        x.Sort();
        return x[x.Count / 2];
    }

    private static float[] RandomArray(Random rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
