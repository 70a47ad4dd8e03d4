#:project ../Rlef.Benchmarks.csproj
// NT products (A·Wᵀ, the linear layers' forward) of the layer shapes and 1024³ with 2 engine threads: the weight
// packed in every call vs packed once beforehand (PackedWeight), alternating; fractions of the FMA peak by CPU time.
//   dotnet run -c Release src/Rlef.Benchmarks/Scripts/gemm-prepacked-bench.cs -- ROUNDS
using Rlef.Benchmarks.Engine;
using Rlef.Engine.Kernels;
int rounds = int.Parse(args[0]);
var peak = GemmBenchmark.MeasurePeak(2).CpuGFlops;
Console.WriteLine($"kernel {Gemm.KernelName} peak {peak:F0} GFLOP/s per CPU-second x 2");
var sums = new double[2, 2]; var square = new double[2, 2];
for (int r = 0; r < rounds; r++)
    foreach (var shape in GemmBenchmark.Shapes)
        foreach (bool v in r % 2 == 0 ? new[] { false, true } : new[] { true, false })
        {
            var m = GemmBenchmark.Measure(shape, GemmLayout.NT, 2, 0.3, prepacked: v);
            var t = shape.M == shape.K ? square : sums;
            t[v ? 1 : 0, 0] += shape.Flops; t[v ? 1 : 0, 1] += m.CpuSeconds;
            Console.WriteLine($"{shape.Name,-26} {(v ? "pre-packed" : "each call"),-10} {m.CpuGFlops / peak:P1} by CPU, {m.GFlops:F0} GFLOP/s wall");
        }
double F(double[,] s, int v) => s[v, 0] / s[v, 1] * 2 / 1e9 / peak;
Console.WriteLine($"layer shapes: each call {F(sums, 0):P1}, pre-packed {F(sums, 1):P1}, ratio {F(sums, 1) / F(sums, 0):F3}");
Console.WriteLine($"1024^3:       each call {F(square, 0):P1}, pre-packed {F(square, 1):P1}, ratio {F(square, 1) / F(square, 0):F3}");
