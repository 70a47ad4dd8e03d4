#:project ../src/Rlef.Engine/Rlef.Engine.csproj
#:property TieredPGO=true
// GEMM throughput per shape, layout and thread count: dotnet run -c Release tools/gemm-bench.cs [-- filter]
// Optional argument: a substring of the shape names to run (e.g. "lm-head").
using Rlef.Engine.Kernels;

string filter = args.Length > 0 ? args[0] : "";
double seconds = double.TryParse(Environment.GetEnvironmentVariable("GEMM_BENCH_SECONDS"), out var s) ? s : 0.5;
Console.WriteLine($"kernel: {Gemm.KernelName}, processors: {Environment.ProcessorCount}");
Console.WriteLine($"{"shape",-26} {"layout",-6} {"threads",7} {"ms",9} {"GFLOP/s",9}");
foreach (var shape in GemmBenchmark.Shapes.Where(x => x.Name.Contains(filter)))
    foreach (var layout in Enum.GetValues<GemmLayout>())
        foreach (int threads in new[] { 1, Environment.ProcessorCount }.Distinct())
        {
            var r = GemmBenchmark.Measure(shape, layout, threads, seconds);
            Console.WriteLine($"{shape.Name,-26} {layout,-6} {threads,7} {r.Seconds * 1e3,9:F2} {r.GFlops,9:F1}");
        }
