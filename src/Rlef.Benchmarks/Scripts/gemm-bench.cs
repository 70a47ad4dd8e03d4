#:project ../Rlef.Benchmarks.csproj
// GEMM throughput per shape, layout and thread count against the measured FMA peak:
//   dotnet run -c Release src/Rlef.Benchmarks/Scripts/gemm-bench.cs [-- filter [threads,...]]
// filter: a substring of the shape names to run (e.g. "lm-head"; "" for all). threads: e.g. "1,2".
// GEMM_BENCH_SECONDS sets the minimum time per measurement (default 0.5 s).
// "median" is what a caller sees; "best" (the fastest run) estimates the kernel on a machine shared with others;
// "cpu" is FLOPs per CPU-second times the thread count, the estimate to use when the machine is oversubscribed.
using Rlef.Benchmarks.Engine;
using Rlef.Engine.Kernels;

string filter = args.Length > 0 ? args[0] : "";
int[] threadCounts = args.Length > 1
    ? args[1].Split(',').Select(int.Parse).ToArray()
    : new[] { 1, Environment.ProcessorCount }.Distinct().ToArray();
double seconds = double.TryParse(Environment.GetEnvironmentVariable("GEMM_BENCH_SECONDS"), out var s) ? s : 0.5;
Console.WriteLine($"kernel: {Gemm.KernelName}, processors: {Environment.ProcessorCount}");
var peak = threadCounts.ToDictionary(t => t, t => GemmBenchmark.MeasurePeak(t));
foreach (var (t, p) in peak)
{
    Console.WriteLine($"FMA peak, {t} thread(s), widest vectors: {p.WallGFlops:F1} GFLOP/s wall, {p.CpuGFlops:F1} per CPU-second x threads");
    var narrow = GemmBenchmark.MeasurePeak(t, vectorBits: 256);
    Console.WriteLine($"FMA peak, {t} thread(s), 256-bit:         {narrow.WallGFlops:F1} GFLOP/s wall, {narrow.CpuGFlops:F1} per CPU-second x threads");
}
Console.WriteLine($"{"shape",-26} {"layout",-6} {"threads",7} {"median ms",10} {"GFLOP/s",8} {"best",8} {"best/peak",9} {"cpu",8} {"cpu/peak",8}");
foreach (var shape in GemmBenchmark.Shapes.Where(x => x.Name.Contains(filter)))
    foreach (var layout in Enum.GetValues<GemmLayout>())
        foreach (int threads in threadCounts)
        {
            var r = GemmBenchmark.Measure(shape, layout, threads, seconds);
            Console.WriteLine($"{shape.Name,-26} {layout,-6} {threads,7} {r.Seconds * 1e3,10:F2} {r.GFlops,8:F1} {r.BestGFlops,8:F1} {r.BestGFlops / peak[threads].WallGFlops,9:P0} {r.CpuGFlops,8:F1} {r.CpuGFlops / peak[threads].CpuGFlops,8:P0}");
        }
