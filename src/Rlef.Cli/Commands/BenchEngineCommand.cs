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
/// `rlef bench engine`: in one run, one RLEF iteration of the miniature (time split, peak RSS after it), the FMA peak of
/// this machine, SGEMM on the GPT-2-124M layer shapes against it with every micro-kernel the machine runs,
/// a training step of a ~124M-parameter Llama and of the miniature's model (forward, backward, AdamW), decoding throughput
/// at batch 1 and 32, the reference and value networks scored side by side vs one after the other, the attention kernels
/// (row kernels, 256- and 512-bit tiles, alternating in one loop) on the mini and
/// GPT-2 shapes, the SIMD width and the process's peak resident set.
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
        var miniModel = new Option<string>("--mini-model") { Description = "Model directory of the RLEF iteration.", DefaultValueFactory = _ => "models/mini" };
        var miniConfig = new Option<string>("--mini-config") { Description = "RLEF config of the iteration.", DefaultValueFactory = _ => "configs/mini.yaml" };
        var iterationRollouts = new Option<int>("--iteration-rollouts") { Description = "Rollouts of the RLEF iteration (2 updates).", DefaultValueFactory = _ => 32 };
        var sections = new Option<string>("--sections")
        {
            Description = $"Comma-separated parts to run (default all): {string.Join(", ", AllSections)}.",
            DefaultValueFactory = _ => string.Join(",", AllSections),
        };
        var command = new Command("engine", "Measure the engine: one RLEF iteration of the miniature, FMA peak, SGEMM vs peak per kernel, training steps, decoding tokens/s, scoring, attention.")
        {
            steps, threads, batch, seq, intermediate, decodeTokens, skipGemm, json, attentionOnly, sections, miniModel, miniConfig, iterationRollouts,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var chosen = (parse.GetValue(sections) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            if (chosen.FirstOrDefault(x => !AllSections.Contains(x)) is { } unknown)
                throw new UserError($"--sections: unknown part '{unknown}'; choose from {string.Join(", ", AllSections)}.");
            if (parse.GetValue(skipGemm)) chosen.Remove("sgemm");
            var options = new BenchOptions(parse.GetValue(steps), parse.GetValue(threads), parse.GetValue(batch), parse.GetValue(seq),
                parse.GetValue(intermediate), parse.GetValue(decodeTokens), chosen);
            if (options.Steps < 1 || options.Threads < 1 || options.Batch < 1 || options.Seq < 2 || options.Intermediate < 1 || options.DecodeTokens < 1)
                throw new UserError("--steps, --threads, --batch, --intermediate and --decode-tokens must be ≥ 1, --seq ≥ 2.");
            if (parse.GetValue(attentionOnly))
            {
                var (peak, peakCpu) = GemmBenchmark.MeasurePeak(options.Threads);
                var rowsOnly = MeasureAttention(options.Threads, peak, peakCpu, parse.GetValue(json) ? null : Console.Error);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(rowsOnly, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                else
                    PrintAttention(rowsOnly);
                return 0;
            }
            // The RLEF iteration runs first, so the peak resident set read after it is the RL process's own.
            IterationRow? iteration = null;
            if (options.Runs("iteration"))
            {
                string modelDirectory = parse.GetValue(miniModel)!, configFile = parse.GetValue(miniConfig)!;
                if (!File.Exists(Path.Combine(modelDirectory, "config.json")))
                    throw new UserError($"--mini-model: '{modelDirectory}' is not a model directory (no config.json).");
                if (!File.Exists(configFile)) throw new UserError($"--mini-config: '{configFile}' does not exist.");
                if (parse.GetValue(iterationRollouts) < 2) throw new UserError("--iteration-rollouts must be ≥ 2.");
                iteration = await MeasureIteration(modelDirectory, configFile, parse.GetValue(iterationRollouts), options.Threads,
                    parse.GetValue(json) ? null : Console.Error, cancellationToken);
            }
            var result = Run(options, parse.GetValue(json) ? null : Console.Error) with { Iteration = iteration };
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            else
                Print(result);
            return 0;
        });
        return command;
    }

    private sealed record BenchOptions(int Steps, int Threads, int Batch, int Seq, int Intermediate, int DecodeTokens, IReadOnlySet<string> Sections)
    {
        public bool Runs(string section) => Sections.Contains(section);
    }

    // The parts of the run, in the order they run: one RLEF iteration of the miniature, SGEMM, the 124M training step,
    // the miniature's step, decoding, teacher-forced scoring of the reference and value networks, attention.
    private static readonly string[] AllSections = ["iteration", "sgemm", "train", "mini", "decode", "scoring", "attention"];

    public sealed record GemmRow(
        [property: JsonPropertyName("vector_bits")] int VectorBits,
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
        [property: JsonPropertyName("tiles_256_ms")] double Tiles256Ms,
        [property: JsonPropertyName("tiles_512_ms")] double? Tiles512Ms,
        [property: JsonPropertyName("speedup")] double Speedup,
        [property: JsonPropertyName("rows_cpu_ms")] double RowsCpuMs,
        [property: JsonPropertyName("tiles_cpu_ms")] double TilesCpuMs,
        [property: JsonPropertyName("tiles_256_cpu_ms")] double Tiles256CpuMs,
        [property: JsonPropertyName("tiles_512_cpu_ms")] double? Tiles512CpuMs,
        [property: JsonPropertyName("cpu_speedup")] double CpuSpeedup,
        [property: JsonPropertyName("flops")] double? Flops,
        [property: JsonPropertyName("tiles_fraction_of_peak")] double? TilesFractionOfPeak,
        [property: JsonPropertyName("tiles_cpu_fraction_of_peak")] double? TilesCpuFractionOfPeak,
        [property: JsonPropertyName("rounds")] int Rounds);

    // Wall-clock figures are what a user waits for; the *_cpu figures divide by the process's CPU time instead, which
    // estimates the rate with the cores to ourselves when other processes share them (it hides idle waits).
    public sealed record EngineBenchResult(
        [property: JsonPropertyName("threads")] int Threads,
        [property: JsonPropertyName("vector_bits")] int VectorBits,
        [property: JsonPropertyName("gemm_kernel")] string GemmKernel,
        [property: JsonPropertyName("peak_gflops_1_thread")] double PeakGflops1Thread,
        [property: JsonPropertyName("peak_gflops")] double PeakGflops,
        [property: JsonPropertyName("peak_gflops_cpu")] double PeakGflopsCpu,
        [property: JsonPropertyName("sgemm_gflops")] double SgemmGflops,
        [property: JsonPropertyName("sgemm_gflops_cpu")] double SgemmGflopsCpu,
        [property: JsonPropertyName("sgemm_square_1024_gflops")] double SgemmSquareGflops,
        [property: JsonPropertyName("sgemm_shapes")] IReadOnlyList<GemmRow> Sgemm,
        [property: JsonPropertyName("sgemm_paths")] IReadOnlyList<GemmPath> SgemmPaths,
        [property: JsonPropertyName("train_parameters")] long TrainParameters,
        [property: JsonPropertyName("train_batch")] int TrainBatch,
        [property: JsonPropertyName("train_seq")] int TrainSeq,
        [property: JsonPropertyName("train_step_ms")] double TrainStepMs,
        [property: JsonPropertyName("train_step_min_ms")] double TrainStepMinMs,
        [property: JsonPropertyName("train_step_cpu_ms")] double TrainStepCpuMs,
        [property: JsonPropertyName("train_gflops")] double TrainGflops,
        [property: JsonPropertyName("optimizer")] string Optimizer,
        [property: JsonPropertyName("mini_train_step")] MiniStep? MiniTrainStep,
        [property: JsonPropertyName("decode_tokens_per_s_b1")] double DecodeTokensPerSB1,
        [property: JsonPropertyName("decode_tokens_per_s_b32")] double DecodeTokensPerSB32,
        [property: JsonPropertyName("decode_b1")] DecodeMeasurement? DecodeB1,
        [property: JsonPropertyName("decode_b32")] DecodeMeasurement? DecodeB32,
        [property: JsonPropertyName("scoring")] ScoringRow? Scoring,
        [property: JsonPropertyName("attention")] IReadOnlyList<AttentionRow> Attention,
        [property: JsonPropertyName("peak_rss_mb")] double PeakRssMb,
        [property: JsonPropertyName("rlef_iteration")] IterationRow? Iteration,
        [property: JsonPropertyName("load_average")] double LoadAverage);

    /// <summary>
    /// One SGEMM micro-kernel's aggregate over the layer shapes (total FLOP / total time) and its 1024³ figure, against
    /// the FMA peak at the same vector width measured in the same run; by wall clock and by CPU time.
    /// </summary>
    public sealed record GemmPath(
        [property: JsonPropertyName("vector_bits")] int VectorBits,
        [property: JsonPropertyName("kernel")] string Kernel,
        [property: JsonPropertyName("packing_512")] bool Packing512,
        [property: JsonPropertyName("peak_gflops")] double PeakGflops,
        [property: JsonPropertyName("peak_gflops_cpu")] double PeakGflopsCpu,
        [property: JsonPropertyName("layers_gflops")] double LayersGflops,
        [property: JsonPropertyName("layers_gflops_cpu")] double LayersGflopsCpu,
        [property: JsonPropertyName("layers_fraction_of_peak")] double LayersFractionOfPeak,
        [property: JsonPropertyName("layers_cpu_fraction_of_peak")] double LayersCpuFractionOfPeak,
        [property: JsonPropertyName("square_1024_gflops")] double SquareGflops,
        [property: JsonPropertyName("square_1024_gflops_cpu")] double SquareGflopsCpu,
        [property: JsonPropertyName("square_1024_fraction_of_peak")] double SquareFractionOfPeak,
        [property: JsonPropertyName("square_1024_cpu_fraction_of_peak")] double SquareCpuFractionOfPeak,
        // NT only (the linear layers' forward), packing the weight in every call vs packed once beforehand as the
        // engine's decoding and scoring passes do (PackedWeight), measured alternately shape by shape.
        [property: JsonPropertyName("layers_nt_cpu_fraction_of_peak")] double LayersNtCpuFractionOfPeak,
        [property: JsonPropertyName("layers_nt_prepacked_cpu_fraction_of_peak")] double LayersNtPrepackedCpuFractionOfPeak,
        [property: JsonPropertyName("layers_nt_prepacked_fraction_of_peak")] double LayersNtPrepackedFractionOfPeak,
        [property: JsonPropertyName("square_1024_prepacked_cpu_fraction_of_peak")] double SquarePrepackedCpuFractionOfPeak,
        [property: JsonPropertyName("square_1024_prepacked_fraction_of_peak")] double SquarePrepackedFractionOfPeak);

    /// <summary>The miniature's training step (models/mini's architecture, B 8, T 512, every position scored, AdamW).</summary>
    public sealed record MiniStep(
        [property: JsonPropertyName("parameters")] long Parameters,
        [property: JsonPropertyName("batch")] int Batch,
        [property: JsonPropertyName("seq")] int Seq,
        [property: JsonPropertyName("flops")] double Flops,
        [property: JsonPropertyName("step_ms")] double StepMs,
        [property: JsonPropertyName("step_min_ms")] double StepMinMs,
        [property: JsonPropertyName("step_cpu_ms")] double StepCpuMs,
        [property: JsonPropertyName("gflops")] double Gflops,
        [property: JsonPropertyName("fraction_of_peak")] double FractionOfPeak,
        [property: JsonPropertyName("cpu_fraction_of_peak")] double CpuFractionOfPeak);

    // The width of the engine's SIMD paths here: 512 with AVX-512, else 256 (DOTNET_EnableAVX512=0 forces 256).
    private static int VectorBits => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? 512 : 256;

    private static EngineBenchResult Run(BenchOptions o, TextWriter? progress)
    {
        EngineThreads.Degree = o.Threads;

        progress?.WriteLine("measuring the FMA peak (1 and {0} threads)…", o.Threads);
        double peak1 = GemmBenchmark.MeasurePeak(1).WallGFlops;
        var (peak, peakCpu) = GemmBenchmark.MeasurePeak(o.Threads);

        // SGEMM: the GPT-2-124M layer shapes at B·T = 256 in the three layouts a training step uses, with every
        // micro-kernel this machine can run (with AVX-512 the 256-bit one too), alternating shape by shape so load from
        // other processes hits them alike. Headline per kernel: the aggregate (total FLOP / total time) and 1024³.
        var rows = new List<GemmRow>();
        var paths = new List<GemmPath>();
        double flops = 0, seconds = 0, cpuSeconds = 0, square = 0;
        if (o.Runs("sgemm"))
        {
            var widths = GemmKernels.Widths;
            var widthPeaks = widths.ToDictionary(w => w, w => GemmBenchmark.MeasurePeak(o.Threads, vectorBits: w));
            var totals = widths.ToDictionary(w => w, _ => (Flops: 0.0, Seconds: 0.0, Cpu: 0.0, Square: 0.0, SquareCpu: 0.0));
            var nt = widths.ToDictionary(w => w, _ => (Flops: 0.0, Cpu: 0.0, PackedSeconds: 0.0, PackedCpu: 0.0, Square: 0.0, SquareCpu: 0.0));
            foreach (var shape in GemmBenchmark.Shapes)
                foreach (var layout in new[] { GemmLayout.NT, GemmLayout.NN, GemmLayout.TN })
                    foreach (int width in widths)
                    {
                        bool isSquare = shape.M == shape.N && shape.N == shape.K;
                        if (isSquare && layout != GemmLayout.NT) continue;
                        progress?.WriteLine("sgemm {0} {1}, {2}…", shape.Name, layout, GemmKernels.Name(width));
                        var m = GemmBenchmark.Measure(shape, layout, o.Threads, minSeconds: 0.3, vectorBits: width);
                        rows.Add(new GemmRow(width, shape.Name, layout.ToString(), m.GFlops, m.BestGFlops, m.CpuGFlops));
                        var t = totals[width];
                        totals[width] = isSquare
                            ? t with { Square = m.GFlops, SquareCpu = m.CpuGFlops }
                            : t with { Flops = t.Flops + shape.Flops, Seconds = t.Seconds + m.Seconds, Cpu = t.Cpu + m.CpuSeconds };
                        if (layout != GemmLayout.NT) continue;
                        progress?.WriteLine("sgemm {0} NT with the weight pre-packed, {1}…", shape.Name, GemmKernels.Name(width));
                        var pre = GemmBenchmark.Measure(shape, layout, o.Threads, minSeconds: 0.3, vectorBits: width, prepacked: true);
                        rows.Add(new GemmRow(width, shape.Name, "NT pre-packed", pre.GFlops, pre.BestGFlops, pre.CpuGFlops));
                        var n = nt[width];
                        nt[width] = isSquare
                            ? n with { Square = pre.GFlops, SquareCpu = pre.CpuGFlops }
                            : n with { Flops = n.Flops + shape.Flops, Cpu = n.Cpu + m.CpuSeconds, PackedSeconds = n.PackedSeconds + pre.Seconds, PackedCpu = n.PackedCpu + pre.CpuSeconds };
                    }
            foreach (int width in widths)
            {
                var (wPeak, wPeakCpu) = widthPeaks[width];
                var t = totals[width];
                double wall = t.Flops / t.Seconds / 1e9, cpu = t.Flops / t.Cpu * o.Threads / 1e9;
                var n = nt[width];
                double ByCpu(double cpuSeconds) => n.Flops / cpuSeconds * o.Threads / 1e9 / wPeakCpu;
                paths.Add(new GemmPath(width, GemmKernels.Name(width), GemmKernels.Packs512, wPeak, wPeakCpu, wall, cpu, wall / wPeak,
                    cpu / wPeakCpu, t.Square, t.SquareCpu, t.Square / wPeak, t.SquareCpu / wPeakCpu,
                    ByCpu(n.Cpu), ByCpu(n.PackedCpu), n.Flops / n.PackedSeconds / 1e9 / wPeak, n.SquareCpu / wPeakCpu, n.Square / wPeak));
            }
            // The engine's own kernel (the widest) keeps the top-level fields.
            var own = totals[widths[0]];
            (flops, seconds, cpuSeconds, square) = (own.Flops, own.Seconds, own.Cpu, own.Square);
        }

        // Training step of a GPT-2-124M-sized Llama: d=768, 12 layers, 12 heads, vocab 50257, tied embeddings.
        var config = LlamaConfig.Create(vocabSize: 50257, hiddenSize: 768, layers: 12, heads: 12, kvHeads: 12,
            intermediateSize: o.Intermediate, maxPositions: 1024, tieEmbeddings: true);
        LlamaModel? model = null;
        List<double> times = [0], cpuTimes = [0];
        double median = 0, stepFlops = TrainingFlops(config, o.Batch, o.Seq);
        if (o.Runs("train") || o.Runs("decode"))
        {
            progress?.WriteLine("initialising a {0}-layer d={1} model…", config.NumHiddenLayers, config.HiddenSize);
            model = LlamaModel.CreateRandom(config, seed: 1);
        }
        if (o.Runs("train"))
        {
            model!.Reserve(o.Batch, o.Seq);
            (times, cpuTimes) = TimeTrainSteps(model, o.Batch, o.Seq, o.Steps, o.Threads, "train step", progress);
            median = times[times.Count / 2];
        }

        var mini = o.Runs("mini") ? MeasureMiniStep(o, peak, peakCpu, progress) : null;

        DecodeMeasurement? b1 = null, b32 = null;
        if (o.Runs("decode"))
        {
            progress?.WriteLine("decoding at batch 1 and 32…");
            b1 = MeasureDecoding(model!, 1, o.DecodeTokens, peak, peakCpu, progress);
            b32 = MeasureDecoding(model!, 32, o.DecodeTokens, peak, peakCpu, progress);
        }

        var scoring = o.Runs("scoring") ? MeasureScoring(progress) : null;

        var attention = o.Runs("attention") ? MeasureAttention(o.Threads, peak, peakCpu, progress) : [];

        return new EngineBenchResult(o.Threads, VectorBits, Gemm.KernelName, peak1, peak, peakCpu, seconds > 0 ? flops / seconds / 1e9 : 0,
            cpuSeconds > 0 ? flops / cpuSeconds * o.Threads / 1e9 : 0, square, rows, paths, model?.ParameterCount ?? 0, o.Batch, o.Seq, median,
            times[0], cpuTimes[cpuTimes.Count / 2], median > 0 ? stepFlops / (median / 1000) / 1e9 : 0, "AdamW (decoupled weight decay 0.1)", mini,
            b1?.TokensPerSecond ?? 0, b32?.TokensPerSecond ?? 0, b1, b32, scoring, attention, PeakRssMb(), null, LoadAverage());
    }

    // Attention kernels: the row kernels, the 256-bit and (with AVX-512) the 512-bit tiles, alternating in one loop; the
    // engine's tiles as a fraction of the FMA peak (by wall clock, and by CPU time against the per-CPU-second peak).
    private static List<AttentionRow> MeasureAttention(int threads, double peak, double peakCpu, TextWriter? progress) =>
        AttentionBenchmark.Measure(threads, minSeconds: 2, progress: progress is null ? null : progress.WriteLine)
            .Select(m =>
            {
                double? flops = m.Pass == "train step" ? null : m.Shape.Flops(m.Pass);
                double? Nan(double x) => double.IsNaN(x) ? null : x;
                return new AttentionRow(m.Shape.Name, m.Pass, m.RowsMs, m.TilesMs, m.Tiles256Ms, Nan(m.Tiles512Ms), m.Speedup,
                    m.RowsCpuMs, m.TilesCpuMs, m.Tiles256CpuMs, Nan(m.Tiles512CpuMs), m.CpuSpeedup, flops,
                    flops / (m.TilesMs / 1000) / 1e9 / peak, flops / (m.TilesCpuMs / 1000) * threads / 1e9 / peakCpu, m.Rounds);
            }).ToList();

    // Median and sorted times (wall, and CPU per thread) of `steps` training steps after one warm-up: forward, backward
    // of the token-mean cross-entropy over every position, AdamW.
    private static (List<double> Wall, List<double> CpuPerThread) TimeTrainSteps(LlamaModel model, int batch, int seq, int steps, int threads,
        string name, TextWriter? progress)
    {
        int n = batch * seq, vocab = model.Config.VocabSize;
        model.Reserve(batch, seq);
        var optimizer = new AdamW(model.Parameters, new AdamWOptions { WeightDecay = 0.1 });
        var rng = new Random(1);
        var tokens = new int[n]; var targets = new int[n];
        for (int i = 0; i < n; i++) { tokens[i] = rng.Next(vocab); targets[i] = rng.Next(vocab); }
        var weights = Enumerable.Repeat(1f / n, n).ToArray();
        List<double> times = [], cpuTimes = [];
        for (int step = 0; step <= steps; step++)
        {
            var cpuStart = System.Environment.CpuUsage.TotalTime;
            long start = Stopwatch.GetTimestamp();
            model.ZeroGrad();
            float loss = model.TrainCrossEntropy(tokens, targets, weights, batch, seq);
            optimizer.Update(1e-4);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            double cpuMs = (System.Environment.CpuUsage.TotalTime - cpuStart).TotalMilliseconds / threads;
            progress?.WriteLine("{0} {1}: {2:F0} ms ({3:F0} ms of CPU per thread), loss {4:F3}{5}", name, step, ms, cpuMs, loss,
                step == 0 ? " (warm-up, not counted)" : "");
            if (step > 0) { times.Add(ms); cpuTimes.Add(cpuMs); }
        }
        times.Sort();
        cpuTimes.Sort();
        return (times, cpuTimes);
    }

    // models/mini's architecture (4 layers, d 192, 6/2 heads of 32, MLP 512, vocabulary 2048, tied embeddings) at the
    // shape of its PPO updates, B 8 × T 512.
    private static MiniStep MeasureMiniStep(BenchOptions o, double peak, double peakCpu, TextWriter? progress)
    {
        const int batch = 8, seq = 512;
        var config = LlamaConfig.Create(vocabSize: 2048, hiddenSize: 192, layers: 4, heads: 6, kvHeads: 2, intermediateSize: 512,
            maxPositions: 2048, tieEmbeddings: true);
        var model = LlamaModel.CreateRandom(config, seed: 1);
        var (times, cpuTimes) = TimeTrainSteps(model, batch, seq, Math.Max(3, o.Steps), o.Threads, "mini train step", progress);
        double flops = TrainingFlops(config, batch, seq), median = times[times.Count / 2], cpu = cpuTimes[cpuTimes.Count / 2];
        double gflops = flops / (median / 1000) / 1e9;
        return new MiniStep(model.ParameterCount, batch, seq, flops, median, times[0], cpu, gflops, gflops / peak,
            flops / (cpu / 1000) / 1e9 / peakCpu);
    }

    // The process's peak resident set (VmHWM on Linux) in MB.
    private static double PeakRssMb() => Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024);

    private static void PrintAttention(IReadOnlyList<AttentionRow> rows)
    {
        var table = new Table().AddColumn("attention").AddColumn("pass").AddColumn(new TableColumn("rows").RightAligned())
            .AddColumn(new TableColumn("tiles 256").RightAligned()).AddColumn(new TableColumn("tiles 512").RightAligned())
            .AddColumn(new TableColumn("speedup").RightAligned()).AddColumn(new TableColumn("by CPU time").RightAligned())
            .AddColumn(new TableColumn("of peak").RightAligned());
        foreach (var r in rows)
            table.AddRow(r.Shape, r.Pass, $"{r.RowsMs:F1} ms", $"{r.Tiles256Ms:F1} ms", r.Tiles512Ms is { } w ? $"{w:F1} ms" : "-",
                $"{r.Speedup:F1}×", $"{r.CpuSpeedup:F1}×", r.TilesFractionOfPeak is { } f ? $"{100 * f:F0}% ({100 * r.TilesCpuFractionOfPeak:F0}% by CPU)" : "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]One layer's attention; medians; the kernels alternate within one loop, so load from other processes hits them alike; rows = the former row kernels, speedups = rows / the engine's tiles. CPU time counts every thread.[/]");
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

    /// <summary>
    /// PPO's teacher-forced scoring with the miniature's architecture: the reference policy's log-probs and the value
    /// network's values on the same sequences, one after the other (each kernel split over the threads) and side by side
    /// (<see cref="Scorer.LogProbsAndValues"/>), alternating; medians of wall and CPU seconds.
    /// </summary>
    public sealed record ScoringRow(
        [property: JsonPropertyName("sequences")] int Sequences,
        [property: JsonPropertyName("tokens")] long Tokens,
        [property: JsonPropertyName("one_after_the_other_s")] double SeparateSeconds,
        [property: JsonPropertyName("side_by_side_s")] double SideBySideSeconds,
        [property: JsonPropertyName("one_after_the_other_cpu_s")] double SeparateCpuSeconds,
        [property: JsonPropertyName("side_by_side_cpu_s")] double SideBySideCpuSeconds,
        [property: JsonPropertyName("speedup")] double Speedup,
        [property: JsonPropertyName("rounds")] int Rounds);

    // 32 episodes of 300-1100 tokens (the miniature's multi-turn lengths), scored in passes of 4096 tokens (the default
    // engine.scoring_batch_tokens).
    private static ScoringRow MeasureScoring(TextWriter? progress)
    {
        const int rounds = 5, budget = 4096;
        var config = LlamaConfig.Create(vocabSize: 2048, hiddenSize: 192, layers: 4, heads: 6, kvHeads: 2, intermediateSize: 512,
            maxPositions: 2048, tieEmbeddings: true);
        var reference = LlamaModel.CreateRandom(config, seed: 1);
        var value = LlamaModel.CreateRandom(config, seed: 2).CreateValueModel(seed: 3);
        var rng = new Random(4);
        var sequences = Enumerable.Range(0, 32)
            .Select(_ => (IReadOnlyList<int>)Enumerable.Range(0, rng.Next(300, 1100)).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToArray();
        Scorer.LogProbsAndValues(reference, value, sequences, budget);   // warm-up: JIT, buffers
        List<double> separate = [], side = [], separateCpu = [], sideCpu = [];
        for (int round = 0; round < rounds; round++)
        {
            foreach (bool together in new[] { false, true })
            {
                var cpuStart = System.Environment.CpuUsage.TotalTime;
                long start = Stopwatch.GetTimestamp();
                if (together) Scorer.LogProbsAndValues(reference, value, sequences, budget);
                else
                {
                    Scorer.LogProbs(reference, sequences, budget);
                    Scorer.Values(value, sequences, budget);
                }
                double wall = Stopwatch.GetElapsedTime(start).TotalSeconds, cpu = (System.Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds;
                (together ? side : separate).Add(wall);
                (together ? sideCpu : separateCpu).Add(cpu);
                progress?.WriteLine("scoring, round {0}, {1}: {2:F2} s ({3:F2} s of CPU)", round, together ? "side by side" : "one after the other", wall, cpu);
            }
        }
        static double Median(List<double> x) { x.Sort(); return x[x.Count / 2]; }
        double a = Median(separate), b = Median(side);
        return new ScoringRow(sequences.Length, sequences.Sum(x => (long)x.Count), a, b, Median(separateCpu), Median(sideCpu), a / b, rounds);
    }

    /// <summary>
    /// One RLEF iteration of the miniature (configs/mini.yaml on generated problems, synchronous: max_policy_lag 0), timed
    /// by the same harness as `rlef bench serve`'s lag comparison, and the process's peak resident set right after it.
    /// </summary>
    public sealed record IterationRow(
        [property: JsonPropertyName("rollouts")] int Rollouts,
        [property: JsonPropertyName("updates")] int Updates,
        [property: JsonPropertyName("wall_s")] double WallSeconds,
        [property: JsonPropertyName("generation_s")] double GenerationSeconds,
        [property: JsonPropertyName("sandbox_s")] double SandboxSeconds,
        [property: JsonPropertyName("scoring_s")] double ScoringSeconds,
        [property: JsonPropertyName("update_s")] double UpdateSeconds,
        [property: JsonPropertyName("cpu_s")] double CpuSeconds,
        [property: JsonPropertyName("peak_rss_mb")] double PeakRssMb);

    private static async Task<IterationRow> MeasureIteration(string modelDirectory, string configFile, int rollouts, int threads,
        TextWriter? progress, CancellationToken cancellationToken)
    {
        EngineThreads.Degree = threads;
        progress?.WriteLine("one RLEF iteration of the miniature ({0} rollouts, 2 updates)…", rollouts);
        string work = Directory.CreateTempSubdirectory("rlef-bench-engine-").FullName;
        try
        {
            var cpuStart = System.Environment.CpuUsage.TotalTime;
            var run = await Rlef.Benchmarks.Serving.ServeBenchmark.MiniIterationsAsync(modelDirectory, configFile, maxPolicyLag: 0, iterations: 1,
                rollouts, work, progress, cancellationToken);
            double cpu = (System.Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds;
            return new IterationRow(rollouts, 2, run.WallSeconds, run.GenerationSeconds, run.SandboxSeconds, run.ScoringSeconds, run.UpdateSeconds,
                cpu, PeakRssMb());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Decoding throughput at one batch size: tokens/s, the FLOP a generated token costs (2 per matmul weight incl. the
    /// LM head, plus attention over the cache at the mean context), that as a fraction of the FMA peak, and where the
    /// time went (the model's forward step vs sampling the next tokens from the logits).
    /// </summary>
    public sealed record DecodeMeasurement(
        [property: JsonPropertyName("batch")] int Batch,
        [property: JsonPropertyName("tokens_per_sequence")] int TokensPerSequence,
        [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
        [property: JsonPropertyName("cpu_tokens_per_s")] double CpuTokensPerSecond,
        [property: JsonPropertyName("flops_per_token")] double FlopsPerToken,
        [property: JsonPropertyName("fraction_of_peak")] double FractionOfPeak,
        [property: JsonPropertyName("cpu_fraction_of_peak")] double CpuFractionOfPeak,
        [property: JsonPropertyName("forward_s")] double ForwardSeconds,
        [property: JsonPropertyName("sampling_s")] double SamplingSeconds);

    // Decoding: a 16-token prompt per sequence, then `tokens` steps of sample-and-forward (temperature 1). The best of
    // three rounds (a shared machine only ever slows a round down); CPU figures divide by the process's CPU time.
    private static DecodeMeasurement MeasureDecoding(LlamaModel model, int batch, int tokens, double peak, double peakCpu, TextWriter? progress)
    {
        const int promptLength = 16;
        var cfg = model.Config;
        int vocab = cfg.VocabSize;
        var cache = model.CreateKvCache(batch, promptLength + tokens);
        var rng = new Random(2);
        var prompt = new int[batch * promptLength];
        for (int i = 0; i < prompt.Length; i++) prompt[i] = rng.Next(vocab);
        var samplers = Enumerable.Range(0, batch).Select(_ => new TokenSampler(vocab)).ToArray();
        var options = new SamplingOptions();
        var next = new int[batch];
        var logits = new float[batch * vocab];
        DecodeMeasurement? best = null;
        double perLayer = (double)cfg.HiddenSize * cfg.QDim * 2 + 2.0 * cfg.HiddenSize * cfg.KvDim + 3.0 * cfg.HiddenSize * cfg.IntermediateSize;
        double meanContext = promptLength + tokens / 2.0;
        double flopsPerToken = 2 * (cfg.NumHiddenLayers * perLayer + (double)vocab * cfg.HiddenSize)
            + cfg.NumHiddenLayers * 2.0 * 2 * cfg.NumAttentionHeads * cfg.HeadDim * meanContext;
        for (int round = 0; round < 3; round++)
        {
            cache.Reset(new int[batch]);
            // As Generator runs it: weights packed once per call, here during the prompt's pass (not timed, like it).
            using var packedWeights = model.UsePackedWeights();
            model.Decode(cache, prompt, promptLength).CopyTo(logits);
            double forward = 0, sampling = 0;
            var cpuStart = System.Environment.CpuUsage.TotalTime;
            long start = Stopwatch.GetTimestamp();
            for (int step = 0; step < tokens; step++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int b = 0; b < batch; b++) next[b] = samplers[b].Sample(logits.AsSpan(b * vocab, vocab), options, rng).Token;
                long t1 = Stopwatch.GetTimestamp();
                if (step + 1 < tokens) model.Decode(cache, next, 1).CopyTo(logits);
                sampling += Stopwatch.GetElapsedTime(t0, t1).TotalSeconds;
                forward += Stopwatch.GetElapsedTime(t1).TotalSeconds;
            }
            double wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
            double cpu = (System.Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds;
            int generated = batch * tokens;
            // tokens steps sample `generated` tokens but run tokens - 1 forward steps after the prompt's.
            double computed = batch * (tokens - 1) * flopsPerToken;
            var m = new DecodeMeasurement(batch, tokens, generated / wall, generated / cpu * EngineThreads.Degree, flopsPerToken,
                computed / wall / 1e9 / peak, computed / cpu * EngineThreads.Degree / 1e9 / peakCpu, forward, sampling);
            progress?.WriteLine("decoding batch {0}, round {1}: {2:F1} tokens/s ({3:F1} by CPU time), forward {4:F2} s, sampling {5:F2} s",
                batch, round, m.TokensPerSecond, m.CpuTokensPerSecond, forward, sampling);
            if (best is null || m.TokensPerSecond > best.TokensPerSecond) best = m;
        }
        return best!;
    }

    private static void Print(EngineBenchResult r)
    {
        var table = new Table().AddColumn("measurement").AddColumn(new TableColumn("value").RightAligned()).AddColumn("note");
        if (r.Iteration is { } it)
        {
            double other = it.WallSeconds - it.GenerationSeconds - it.SandboxSeconds - it.ScoringSeconds - it.UpdateSeconds;
            table.AddRow($"one RLEF iteration of the miniature ({it.Rollouts} rollouts, {it.Updates} updates)", $"{it.WallSeconds:F1} s",
                $"generation {it.GenerationSeconds:F1} s, sandbox {it.SandboxSeconds:F1} s, scoring {it.ScoringSeconds:F1} s, update {it.UpdateSeconds:F1} s, other {other:F1} s; CPU {it.CpuSeconds:F1} s; peak RSS after it {it.PeakRssMb:F0} MB");
        }
        table.AddRow("FMA peak, 1 thread", $"{r.PeakGflops1Thread:F0} GFLOP/s", "register-only FMA chains");
        table.AddRow($"FMA peak, {r.Threads} threads", $"{r.PeakGflops:F0} GFLOP/s", $"{r.PeakGflopsCpu:F0} per CPU-second × threads");
        foreach (var p in r.SgemmPaths)
        {
            string packing = p.Packing512 ? "" : ", 256-bit packing";
            table.AddRow($"SGEMM, GPT-2-124M shapes, {p.VectorBits}-bit", $"{p.LayersGflops:F0} GFLOP/s",
                $"{100 * p.LayersFractionOfPeak:F0}% of the {p.VectorBits}-bit peak; by CPU time {p.LayersGflopsCpu:F0} ({100 * p.LayersCpuFractionOfPeak:F0}%); {p.Kernel}{packing}");
            table.AddRow($"SGEMM, 1024³, {p.VectorBits}-bit", $"{p.SquareGflops:F0} GFLOP/s",
                $"{100 * p.SquareFractionOfPeak:F0}% of peak; by CPU time {p.SquareGflopsCpu:F0} ({100 * p.SquareCpuFractionOfPeak:F0}%)");
            table.AddRow($"SGEMM NT, weight pre-packed, {p.VectorBits}-bit", $"{100 * p.LayersNtPrepackedCpuFractionOfPeak:F0}%",
                $"of peak by CPU time on the layer shapes ({100 * p.LayersNtPrepackedFractionOfPeak:F0}% wall) vs {100 * p.LayersNtCpuFractionOfPeak:F0}% packing it each call; " +
                $"1024³ {100 * p.SquarePrepackedCpuFractionOfPeak:F0}% by CPU ({100 * p.SquarePrepackedFractionOfPeak:F0}% wall); decoding and scoring run it this way");
        }
        if (r.TrainStepMs > 0)
            table.AddRow($"train step ({r.TrainParameters / 1e6:F1}M params, B={r.TrainBatch}, T={r.TrainSeq})", $"{r.TrainStepMs:F0} ms",
                $"median; fastest {r.TrainStepMinMs:F0} ms; CPU time per thread {r.TrainStepCpuMs:F0} ms; {r.TrainGflops:F0} GFLOP/s; {r.Optimizer}");
        if (r.MiniTrainStep is { } m)
            table.AddRow($"mini train step ({m.Parameters / 1e6:F1}M params, B={m.Batch}, T={m.Seq})", $"{m.StepMs:F0} ms",
                $"median; fastest {m.StepMinMs:F0} ms; CPU time per thread {m.StepCpuMs:F0} ms; {m.Flops / 1e9:F1} GFLOP a step, {m.Gflops:F0} GFLOP/s = {100 * m.FractionOfPeak:F0}% of peak ({100 * m.CpuFractionOfPeak:F0}% by CPU time)");
        if (r.Scoring is { } sc)
            table.AddRow($"scoring, reference + value (mini, {sc.Sequences} × {sc.Tokens / sc.Sequences} tokens)", $"{sc.SideBySideSeconds:F2} s",
                $"side by side; one after the other {sc.SeparateSeconds:F2} s = {sc.Speedup:F2}× (CPU {sc.SideBySideCpuSeconds:F2} vs {sc.SeparateCpuSeconds:F2} s); medians of {sc.Rounds}");
        foreach (var d in new[] { r.DecodeB1, r.DecodeB32 })
            if (d is not null)
                table.AddRow($"decoding, batch {d.Batch} (124M)", $"{d.TokensPerSecond:F1} tokens/s",
                    $"{d.CpuTokensPerSecond:F0} by CPU time; {d.FlopsPerToken / 1e6:F0} MFLOP a token = {100 * d.FractionOfPeak:F0}% of peak ({100 * d.CpuFractionOfPeak:F0}% by CPU); forward {d.ForwardSeconds:F2} s, sampling {d.SamplingSeconds:F2} s");
        AnsiConsole.Write(table);
        if (r.Sgemm.Count > 0)
        {
            var shapes = new Table().AddColumn("shape").AddColumn("layout").AddColumn("kernel").AddColumn(new TableColumn("median GFLOP/s").RightAligned())
                .AddColumn(new TableColumn("best GFLOP/s").RightAligned()).AddColumn(new TableColumn("by CPU time").RightAligned());
            foreach (var row in r.Sgemm)
                shapes.AddRow(row.Shape, row.Layout, $"{row.VectorBits}-bit", $"{row.Gflops:F0}", $"{row.BestGflops:F0}", $"{row.CpuGflops:F0}");
            AnsiConsole.Write(shapes);
        }
        if (r.Attention.Count > 0) PrintAttention(r.Attention);
        AnsiConsole.MarkupLine($"[grey]{r.VectorBits}-bit SIMD paths; peak resident set {r.PeakRssMb:F0} MB; load average during the run: {r.LoadAverage:F1}. Timings on a shared machine are noisy; compare figures from one run.[/]");
    }
}
