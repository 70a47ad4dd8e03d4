using System.Diagnostics;
using Rlef.Engine.Kernels;
using Rlef.Engine.Layers;
using Rlef.Engine.Model;

namespace Rlef.Benchmarks.Engine;

/// <summary>One attention shape: B sequences of T tokens, query and key/value heads, head dim.</summary>
public sealed record AttentionShape(string Name, int Batch, int Seq, int Heads, int KvHeads, int HeadDim);

/// <summary>
/// Median milliseconds of the row kernels (the former implementation) and the tile kernels on one shape and pass, by
/// wall clock and by process CPU time (less sensitive to other processes taking the cores; it counts all threads).
/// </summary>
public sealed record AttentionTiming(AttentionShape Shape, string Pass, double RowsMs, double TilesMs, double RowsCpuMs, double TilesCpuMs, int Rounds)
{
    public double Speedup => RowsMs / TilesMs;
    public double CpuSpeedup => RowsCpuMs / TilesCpuMs;
}

/// <summary>
/// Times <see cref="Attention"/>'s tile kernels against its row kernels on the training shapes that matter: the
/// miniature policy (d = 32, GQA 6/2) and a GPT-2-like layer (d = 64, 12 heads). The two kernels alternate within
/// one loop, so load from other processes on a shared machine hits both alike.
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
                results.Add(Alternate(s, "forward", minSeconds,
                    () => Attention.ForwardRows(output, lse, q, k, v, b, t, 0, t, h, kvh, d, null, scratch),
                    () => Attention.Forward(output, lse, q, k, v, b, t, 0, t, h, kvh, d, null, scratch)));
                progress?.Invoke($"attention {s.Name}, backward…");
                results.Add(Alternate(s, "backward", minSeconds,
                    () => Attention.BackwardRows(dq, dk, dv, dOut, q, k, v, output, lse, b, t, h, kvh, d, null, scratch),
                    () => Attention.Backward(dq, dk, dv, dOut, q, k, v, output, lse, b, t, h, kvh, d, null, scratch)));
            }
            results.Add(MeasureMiniStep(minSeconds, progress));
            return results;
        }
        finally
        {
            EngineThreads.Degree = saved;
            Attention.ForceRowKernels = false;
        }
    }

    // A training step (log-prob forward and backward, every position scored) of the miniature policy's architecture:
    // what the tiles change for a whole PPO/SFT update, where the layers around attention cost the same either way.
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
        void Step(bool rows)
        {
            Attention.ForceRowKernels = rows;
            model.ZeroGrad();
            model.ForwardLogProbs(tokens, targets, shape.Batch, shape.Seq, logp);
            model.BackwardLogProbs(dLogp);
        }
        progress?.Invoke($"attention {shape.Name}, train step…");
        return Alternate(shape, "train step", minSeconds, () => Step(rows: true), () => Step(rows: false));
    }

    private static AttentionTiming Alternate(AttentionShape shape, string pass, double minSeconds, Action rows, Action tiles)
    {
        rows(); tiles(); // warm-up: JIT and caches
        List<double> rowTimes = [], tileTimes = [], rowCpu = [], tileCpu = [];
        var total = Stopwatch.StartNew();
        while (rowTimes.Count < 3 || total.Elapsed.TotalSeconds < minSeconds)
        {
            Time(rows, rowTimes, rowCpu);
            Time(tiles, tileTimes, tileCpu);
        }
        return new AttentionTiming(shape, pass, Median(rowTimes), Median(tileTimes), Median(rowCpu), Median(tileCpu), rowTimes.Count);
    }

    private static void Time(Action run, List<double> wall, List<double> cpu)
    {
        var cpuStart = Environment.CpuUsage.TotalTime;
        long start = Stopwatch.GetTimestamp();
        run();
        wall.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        cpu.Add((Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds);
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
