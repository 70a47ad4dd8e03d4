#:project ../Rlef.Benchmarks.csproj
// Decoding steps of a GPT-2-124M-sized Llama (random weights), 2 engine threads: weights packed in every product vs
// inside LlamaModel.UsePackedWeights (as Generator runs), alternating; prints the ratio of CPU times.
//   dotnet run -c Release src/Rlef.Benchmarks/Scripts/decode-prepacked-bench.cs -- BATCH STEPS ROUNDS
using Rlef.Engine.Kernels;
using Rlef.Engine.Model;
int batch = int.Parse(args[0]), steps = int.Parse(args[1]), rounds = int.Parse(args[2]);
EngineThreads.Degree = 2;
var config = LlamaConfig.Create(vocabSize: 50257, hiddenSize: 768, layers: 12, heads: 12, kvHeads: 12,
    intermediateSize: 3072, maxPositions: 1024, tieEmbeddings: true);
var model = LlamaModel.CreateRandom(config, seed: 1);
var rng = new Random(1);
var prompt = Enumerable.Range(0, batch * 16).Select(_ => rng.Next(50257)).ToArray();
double Run(bool packed)
{
    var cache = model.CreateKvCache(batch, 16 + steps + 1);
    cache.Reset(new int[batch]);
    using var scope = packed ? model.UsePackedWeights() : null;
    model.Decode(cache, prompt, 16);
    var next = new int[batch];
    var cpu = Environment.CpuUsage.TotalTime;
    for (int s = 0; s < steps; s++)
    {
        for (int b = 0; b < batch; b++) next[b] = (s * 7 + b) % 50257;
        model.Decode(cache, next, 1);
    }
    return (Environment.CpuUsage.TotalTime - cpu).TotalSeconds;
}
var t = new double[2];
Run(false); Run(true);
for (int r = 0; r < rounds; r++)
    foreach (bool v in r % 2 == 0 ? new[] { false, true } : new[] { true, false })
    {
        double cpu = Run(v); t[v ? 1 : 0] += cpu;
        Console.WriteLine($"batch {batch}, {(v ? "pre-packed" : "each call"),-10}: {steps * batch / cpu * 2:F0} tokens per CPU-second x 2");
    }
Console.WriteLine($"batch {batch}: CPU time each call / pre-packed = {t[0] / t[1]:F3} ({rounds} rounds, {steps} steps each, {Gemm.KernelName})");
