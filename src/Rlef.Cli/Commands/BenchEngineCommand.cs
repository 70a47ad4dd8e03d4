using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rlef.Benchmarks.Engine;
using Rlef.Engine.Kernels;
using Rlef.Engine.Layers;
using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Engine.Sampling;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef bench engine`: in one run, the FMA peak of this machine, SGEMM on the GPT-2-124M layer shapes against it,
/// a training step of a ~124M-parameter Llama (forward, backward, AdamW), decoding throughput at batch 1 and 32, and the
/// attention kernels (tiles against the former row kernels, alternating in one loop) on the mini and GPT-2 shapes.
/// </summary>
public static class BenchEngineCommand
{
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "Training steps to time after one warm-up step (median reported).", DefaultValueFactory = _ => 10 };
        var threads = new Option<int>("--threads") { Description = "Engine threads for every measurement.", DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "Training batch size B.", DefaultValueFactory = _ => 4 };
        var seq = new Option<int>("--seq") { Description = "Training sequence length T.", DefaultValueFactory = _ => 64 };
        var intermediate = new Option<int>("--intermediate") { Description = "MLP width of the 124M config (2048 keeps GPT-2's MLP parameter count with SwiGLU's three matrices; 3072 is GPT-2's width).", DefaultValueFactory = _ => 2048 };
        var decodeTokens = new Option<int>("--decode-tokens") { Description = "Tokens generated per sequence in the decoding measurement.", DefaultValueFactory = _ => 32 };
        var skipGemm = new Option<bool>("--skip-gemm") { Description = "Skip the SGEMM shape sweep (peak, training and decoding still run)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of tables." };
        var attentionOnly = new Option<bool>("--attention-only") { Description = "Only time the attention kernels (tiles vs rows)." };
        var command = new Command("engine", "Measure the engine: FMA peak, SGEMM vs peak, a 124M training step, decoding tokens/s.")
        {
            steps, threads, batch, seq, intermediate, decodeTokens, skipGemm, json, attentionOnly,
        };
        command.SetAction(parse =>
        {
            var options = new BenchOptions(parse.GetValue(steps), parse.GetValue(threads), parse.GetValue(batch), parse.GetValue(seq),
                parse.GetValue(intermediate), parse.GetValue(decodeTokens), parse.GetValue(skipGemm));
            if (options.Steps < 1 || options.Threads < 1 || options.Batch < 1 || options.Seq < 2 || options.Intermediate < 1 || options.DecodeTokens < 1)
                throw new UserError("--steps, --threads, --batch, --intermediate and --decode-tokens must be ≥ 1, --seq ≥ 2.");
            if (parse.GetValue(attentionOnly))
            {
                var rowsOnly = MeasureAttention(options.Threads, parse.GetValue(json) ? null : Console.Error);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(rowsOnly, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                else
                    PrintAttention(rowsOnly);
                return 0;
            }
            var result = Run(options, parse.GetValue(json) ? null : Console.Error);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            else
                Print(result);
            return 0;
        });
        return command;
    }

    private sealed record BenchOptions(int Steps, int Threads, int Batch, int Seq, int Intermediate, int DecodeTokens, bool SkipGemm);

    public sealed record GemmRow(
        [property: JsonPropertyName("shape")] string Shape,
        [property: JsonPropertyName("layout")] string Layout,
        [property: JsonPropertyName("gflops")] double Gflops,
        [property: JsonPropertyName("best_gflops")] double BestGflops,
        [property: JsonPropertyName("cpu_gflops")] double CpuGflops);

    public sealed record AttentionRow(
        [property: JsonPropertyName("shape")] string Shape,
        [property: JsonPropertyName("pass")] string Pass,
        [property: JsonPropertyName("rows_ms")] double RowsMs,
        [property: JsonPropertyName("tiles_ms")] double TilesMs,
        [property: JsonPropertyName("speedup")] double Speedup,
        [property: JsonPropertyName("rows_cpu_ms")] double RowsCpuMs,
        [property: JsonPropertyName("tiles_cpu_ms")] double TilesCpuMs,
        [property: JsonPropertyName("cpu_speedup")] double CpuSpeedup,
        [property: JsonPropertyName("rounds")] int Rounds);

    // Wall-clock figures are what a user waits for; the *_cpu figures divide by the process's CPU time instead, which
    // estimates the rate with the cores to ourselves when other processes share them (it hides idle waits).
    public sealed record EngineBenchResult(
        [property: JsonPropertyName("threads")] int Threads,
        [property: JsonPropertyName("gemm_kernel")] string GemmKernel,
        [property: JsonPropertyName("peak_gflops_1_thread")] double PeakGflops1Thread,
        [property: JsonPropertyName("peak_gflops")] double PeakGflops,
        [property: JsonPropertyName("peak_gflops_cpu")] double PeakGflopsCpu,
        [property: JsonPropertyName("sgemm_gflops")] double SgemmGflops,
        [property: JsonPropertyName("sgemm_gflops_cpu")] double SgemmGflopsCpu,
        [property: JsonPropertyName("sgemm_square_1024_gflops")] double SgemmSquareGflops,
        [property: JsonPropertyName("sgemm_shapes")] IReadOnlyList<GemmRow> Sgemm,
        [property: JsonPropertyName("train_parameters")] long TrainParameters,
        [property: JsonPropertyName("train_batch")] int TrainBatch,
        [property: JsonPropertyName("train_seq")] int TrainSeq,
        [property: JsonPropertyName("train_step_ms")] double TrainStepMs,
        [property: JsonPropertyName("train_step_min_ms")] double TrainStepMinMs,
        [property: JsonPropertyName("train_step_cpu_ms")] double TrainStepCpuMs,
        [property: JsonPropertyName("train_gflops")] double TrainGflops,
        [property: JsonPropertyName("optimizer")] string Optimizer,
        [property: JsonPropertyName("decode_tokens_per_s_b1")] double DecodeTokensPerSB1,
        [property: JsonPropertyName("decode_tokens_per_s_b32")] double DecodeTokensPerSB32,
        [property: JsonPropertyName("attention")] IReadOnlyList<AttentionRow> Attention,
        [property: JsonPropertyName("load_average")] double LoadAverage);

    private static EngineBenchResult Run(BenchOptions o, TextWriter? progress)
    {
        EngineThreads.Degree = o.Threads;

        progress?.WriteLine("measuring the FMA peak (1 and {0} threads)…", o.Threads);
        double peak1 = GemmBenchmark.MeasurePeak(1).WallGFlops;
        var (peak, peakCpu) = GemmBenchmark.MeasurePeak(o.Threads);

        // SGEMM: the GPT-2-124M layer shapes at B·T = 256 in the three layouts a training step uses; the headline is
        // their aggregate (total FLOP / total time), the square 1024³ product is reported beside it.
        var rows = new List<GemmRow>();
        double flops = 0, seconds = 0, cpuSeconds = 0, square = 0;
        if (!o.SkipGemm)
        {
            foreach (var shape in GemmBenchmark.Shapes)
                foreach (var layout in new[] { GemmLayout.NT, GemmLayout.NN, GemmLayout.TN })
                {
                    bool isSquare = shape.M == shape.N && shape.N == shape.K;
                    if (isSquare && layout != GemmLayout.NT) continue;
                    progress?.WriteLine("sgemm {0} {1}…", shape.Name, layout);
                    var m = GemmBenchmark.Measure(shape, layout, o.Threads, minSeconds: 0.3);
                    rows.Add(new GemmRow(shape.Name, layout.ToString(), m.GFlops, m.BestGFlops, m.CpuGFlops));
                    if (isSquare) { square = m.GFlops; continue; }
                    flops += shape.Flops;
                    seconds += m.Seconds;
                    cpuSeconds += m.CpuSeconds;
                }
        }

        // Training step of a GPT-2-124M-sized Llama: d=768, 12 layers, 12 heads, vocab 50257, tied embeddings.
        var config = LlamaConfig.Create(vocabSize: 50257, hiddenSize: 768, layers: 12, heads: 12, kvHeads: 12,
            intermediateSize: o.Intermediate, maxPositions: 1024, tieEmbeddings: true);
        progress?.WriteLine("initialising a {0}-layer d={1} model…", config.NumHiddenLayers, config.HiddenSize);
        var model = LlamaModel.CreateRandom(config, seed: 1);
        int n = o.Batch * o.Seq;
        model.Reserve(o.Batch, o.Seq);
        var optimizer = new AdamW(model.Parameters, new AdamWOptions { WeightDecay = 0.1 });
        var rng = new Random(1);
        var tokens = new int[n]; var targets = new int[n];
        for (int i = 0; i < n; i++) { tokens[i] = rng.Next(config.VocabSize); targets[i] = rng.Next(config.VocabSize); }
        var weights = Enumerable.Repeat(1f / n, n).ToArray();
        var times = new List<double>();
        var cpuTimes = new List<double>();
        for (int step = 0; step <= o.Steps; step++)
        {
            var cpuStart = System.Environment.CpuUsage.TotalTime;
            long start = Stopwatch.GetTimestamp();
            model.ZeroGrad();
            float loss = model.TrainCrossEntropy(tokens, targets, weights, o.Batch, o.Seq);
            optimizer.Update(1e-4);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            double cpuMs = (System.Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds / o.Threads;
            progress?.WriteLine("train step {0}: {1:F0} ms ({2:F0} ms of CPU per thread), loss {3:F3}{4}", step, ms, cpuMs, loss,
                step == 0 ? " (warm-up, not counted)" : "");
            if (step > 0) { times.Add(ms); cpuTimes.Add(cpuMs); }
        }
        times.Sort();
        cpuTimes.Sort();
        double median = times[times.Count / 2];
        double stepFlops = TrainingFlops(config, o.Batch, o.Seq);

        progress?.WriteLine("decoding at batch 1 and 32…");
        double b1 = DecodeTokensPerSecond(model, 1, o.DecodeTokens);
        double b32 = DecodeTokensPerSecond(model, 32, o.DecodeTokens);

        var attention = MeasureAttention(o.Threads, progress);

        return new EngineBenchResult(o.Threads, Gemm.KernelName, peak1, peak, peakCpu, seconds > 0 ? flops / seconds / 1e9 : 0,
            cpuSeconds > 0 ? flops / cpuSeconds * o.Threads / 1e9 : 0, square, rows, model.ParameterCount, o.Batch, o.Seq, median, times[0],
            cpuTimes[cpuTimes.Count / 2], stepFlops / (median / 1000) / 1e9, "AdamW (decoupled weight decay 0.1)", b1, b32, attention, LoadAverage());
    }

    // Attention kernels: the tiles against the former row kernels on the mini and GPT-2-like training shapes.
    private static List<AttentionRow> MeasureAttention(int threads, TextWriter? progress) =>
        AttentionBenchmark.Measure(threads, minSeconds: 2, progress: progress is null ? null : progress.WriteLine)
            .Select(m => new AttentionRow(m.Shape.Name, m.Pass, m.RowsMs, m.TilesMs, m.Speedup, m.RowsCpuMs, m.TilesCpuMs, m.CpuSpeedup, m.Rounds)).ToList();

    private static void PrintAttention(IReadOnlyList<AttentionRow> rows)
    {
        var table = new Table().AddColumn("attention").AddColumn("pass").AddColumn(new TableColumn("rows").RightAligned())
            .AddColumn(new TableColumn("tiles").RightAligned()).AddColumn(new TableColumn("speedup").RightAligned())
            .AddColumn(new TableColumn("by CPU time").RightAligned());
        foreach (var r in rows)
            table.AddRow(r.Shape, r.Pass, $"{r.RowsMs:F1} ms", $"{r.TilesMs:F1} ms", $"{r.Speedup:F1}×", $"{r.CpuSpeedup:F1}×");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]Medians; the two kernels alternate within one loop, so load from other processes hits both alike; rows = the former row kernels. CPU time counts every thread.[/]");
    }

    // The 1-minute load average from /proc/loadavg (NaN elsewhere): how shared the machine was during the run.
    private static double LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (IOException) { return double.NaN; }
        catch (UnauthorizedAccessException) { return double.NaN; }
    }

    /// <summary>
    /// FLOP of one training step: 6 per token per matmul weight (forward 2, backward 4), plus attention's Q·Kᵀ and P·V
    /// over the causal half (forward 2 products, backward 4, and the backward's recomputation of Q·Kᵀ).
    /// </summary>
    private static double TrainingFlops(LlamaConfig c, int batch, int seq)
    {
        double perLayer = (double)c.HiddenSize * c.QDim * 2 + 2.0 * c.HiddenSize * c.KvDim + 3.0 * c.HiddenSize * c.IntermediateSize;
        double matmulWeights = c.NumHiddenLayers * perLayer + (double)c.VocabSize * c.HiddenSize;
        double tokens = (double)batch * seq;
        double causalPairs = batch * (seq * (seq + 1) / 2.0) * c.NumAttentionHeads;
        double attention = c.NumHiddenLayers * causalPairs * c.HeadDim * 2 * (2 + 4 + 1);
        return 6 * tokens * matmulWeights + attention;
    }

    // Decoding throughput: a 16-token prompt per sequence, then `tokens` steps of sample-and-forward (temperature 1).
    private static double DecodeTokensPerSecond(LlamaModel model, int batch, int tokens)
    {
        const int promptLength = 16;
        int vocab = model.Config.VocabSize;
        var cache = model.CreateKvCache(batch, promptLength + tokens);
        cache.Reset(new int[batch]);
        var rng = new Random(2);
        var prompt = new int[batch * promptLength];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.Next(vocab);
        var logits = model.Decode(cache, prompt, promptLength).ToArray();
        var samplers = Enumerable.Range(0, batch).Select(_ => new TokenSampler(vocab)).ToArray();
        var options = new SamplingOptions();
        var next = new int[batch];
        long start = Stopwatch.GetTimestamp();
        for (int step = 0; step < tokens; step++)
        {
            for (int b = 0; b < batch; b++) next[b] = samplers[b].Sample(logits.AsSpan(b * vocab, vocab), options, rng).Token;
            if (step + 1 < tokens) model.Decode(cache, next, 1).CopyTo(logits);
        }
        return batch * tokens / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    private static void Print(EngineBenchResult r)
    {
        var table = new Table().AddColumn("measurement").AddColumn(new TableColumn("value").RightAligned()).AddColumn("note");
        table.AddRow("FMA peak, 1 thread", $"{r.PeakGflops1Thread:F0} GFLOP/s", "register-only FMA chains");
        table.AddRow($"FMA peak, {r.Threads} threads", $"{r.PeakGflops:F0} GFLOP/s", $"{r.PeakGflopsCpu:F0} per CPU-second × threads");
        if (r.Sgemm.Count > 0)
        {
            table.AddRow("SGEMM, GPT-2-124M shapes", $"{r.SgemmGflops:F0} GFLOP/s",
                $"{100 * r.SgemmGflops / r.PeakGflops:F0}% of peak; by CPU time {r.SgemmGflopsCpu:F0} ({100 * r.SgemmGflopsCpu / r.PeakGflopsCpu:F0}%); {r.GemmKernel}");
            table.AddRow("SGEMM, 1024³", $"{r.SgemmSquareGflops:F0} GFLOP/s", $"{100 * r.SgemmSquareGflops / r.PeakGflops:F0}% of peak");
        }
        table.AddRow($"train step ({r.TrainParameters / 1e6:F1}M params, B={r.TrainBatch}, T={r.TrainSeq})", $"{r.TrainStepMs:F0} ms",
            $"median; fastest {r.TrainStepMinMs:F0} ms; CPU time per thread {r.TrainStepCpuMs:F0} ms; {r.TrainGflops:F0} GFLOP/s; {r.Optimizer}");
        table.AddRow("decoding, batch 1", $"{r.DecodeTokensPerSB1:F1} tokens/s", "");
        table.AddRow("decoding, batch 32", $"{r.DecodeTokensPerSB32:F1} tokens/s", "");
        AnsiConsole.Write(table);
        if (r.Sgemm.Count > 0)
        {
            var shapes = new Table().AddColumn("shape").AddColumn("layout").AddColumn(new TableColumn("median GFLOP/s").RightAligned())
                .AddColumn(new TableColumn("best GFLOP/s").RightAligned()).AddColumn(new TableColumn("by CPU time").RightAligned());
            foreach (var row in r.Sgemm) shapes.AddRow(row.Shape, row.Layout, $"{row.Gflops:F0}", $"{row.BestGflops:F0}", $"{row.CpuGflops:F0}");
            AnsiConsole.Write(shapes);
        }
        PrintAttention(r.Attention);
        AnsiConsole.MarkupLine($"[grey]Load average during the run: {r.LoadAverage:F1}. Timings on a shared machine are noisy; compare figures from one run.[/]");
    }
}
