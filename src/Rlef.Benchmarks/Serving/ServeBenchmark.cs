using System.Diagnostics;
using Rlef.Engine.IO;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Mini;
using Rlef.Sandbox;
using Rlef.Serving.Hosting;
using Rlef.Serving.Model;
using Rlef.Training.Actors;
using Rlef.Training.Actors.Remote;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Runs;

namespace Rlef.Benchmarks.Serving;

/// <summary>Sampling throughput at one concurrency: through `rlef serve model` over HTTP and in process.</summary>
public sealed record ServeThroughput(int Concurrency, int Requests, long HttpTokens, double HttpSeconds, long InProcessTokens,
    double InProcessSeconds, double ServerMeanBatch, double ServerGenerationSeconds)
{
    public double HttpTokensPerSecond => HttpTokens / HttpSeconds;
    public double InProcessTokensPerSecond => InProcessTokens / InProcessSeconds;
    /// <summary>HTTP / in-process tokens per second (the issue's target: ≥ 0.9 at concurrency 32).</summary>
    public double Ratio => HttpTokensPerSecond / InProcessTokensPerSecond;
}

/// <summary>Iterations of the miniature's RLEF with one max_policy_lag: wall time and where it went.</summary>
public sealed record LagRun(int MaxPolicyLag, int Iterations, double WallSeconds, double GenerationSeconds, double SandboxSeconds,
    double ScoringSeconds, double UpdateSeconds, double LearnerIdleSeconds);

/// <summary>
/// `rlef bench serve`: (1) sampled tokens per second through `rlef serve model` (hosted in this process, over HTTP on
/// loopback, SGLang's /generate with one request per sequence) against the in-process batched sampler on the same
/// prompts and seeds, at each concurrency, the two measured alternately in the same run; (2) RLEF iterations of the
/// miniature with max_policy_lag 0 (the synchronous trainer) and 1 (an embedded actor sampling the next iteration
/// while the learner updates), wall time and its split.
/// </summary>
public static class ServeBenchmark
{
    public static async Task<ServeThroughput> ThroughputAsync(string modelDirectory, int concurrency, int requests, int maxTokens,
        TextWriter? log, CancellationToken cancellationToken)
    {
        ChatModel loaded = ModelDirectory.Load(modelDirectory);
        var prompts = Enumerable.Range(0, requests).Select(i => new SampleRequest(
            loaded.Format.EncodeChat([ChatMessage.User($"Write a Python program that prints the sum of the first {i + 3} squares.")], addGenerationPrompt: true),
            Generator.SequenceSeed(17, i))).ToList();
        var options = new SamplingOptions { Temperature = 1, MaxTokens = maxTokens, StopTokenIds = loaded.Format.StopIds };

        var limits = new ModelServingLimits { MaxBatch = Math.Max(concurrency, 1), QueueCapacity = requests + concurrency };
        await using var server = ModelServer.Create(modelDirectory, new ServerOptions { ServiceName = "bench serve", Listen = ListenAddress.Loopback(0) }, limits);
        await server.Host.StartAsync(null, cancellationToken);
        using var http = new SglangSampler(server.Host.BaseAddress!, loaded.Model.Config.VocabSize, concurrency: concurrency, scheme: "rlef");
        var local = new EngineSampler(loaded.Model.Clone());

        // Warm-up (JIT, caches) of both paths, untimed.
        await http.SampleAsync(prompts.Take(Math.Min(concurrency, 4)).ToList(), options with { MaxTokens = 4 }, cancellationToken);
        local.Sample(prompts.Take(Math.Min(concurrency, 4)).ToList(), options with { MaxTokens = 4 });
        double warmupGeneration;
        lock (server.Model.Scheduler.Counters) warmupGeneration = server.Model.Scheduler.Counters.GenerationSeconds;

        long httpTokens = 0, localTokens = 0;
        double httpSeconds = 0, localSeconds = 0;
        // Alternate the two in rounds of `concurrency` requests so that load on a shared machine hits both alike.
        for (int start = 0; start < requests; start += concurrency)
        {
            var round = prompts.Skip(start).Take(concurrency).ToList();
            var clock = Stopwatch.StartNew();
            var remote = await http.SampleAsync(round, options, cancellationToken);
            httpSeconds += clock.Elapsed.TotalSeconds;
            httpTokens += remote.Sum(g => (long)g.Tokens.Length);
            clock.Restart();
            // In process: what an embedded actor does, one batched call for the round's sequences.
            var inProcess = local.Sample(round, options);
            localSeconds += clock.Elapsed.TotalSeconds;
            localTokens += inProcess.Sum(g => (long)g.Tokens.Length);
            log?.WriteLine($"  concurrency {concurrency}: {start + round.Count}/{requests} requests");
        }
        await server.Host.StopAsync();
        var counters = server.Model.Scheduler.Counters;
        double meanBatch, generationSeconds;
        lock (counters)
        {
            meanBatch = counters.Sequences / (double)Math.Max(1, counters.Batches);
            generationSeconds = counters.GenerationSeconds - warmupGeneration;
        }
        return new ServeThroughput(concurrency, requests, httpTokens, httpSeconds, localTokens, localSeconds, meanBatch, generationSeconds);
    }

    /// <summary>
    /// <paramref name="iterations"/> RLEF iterations of the miniature (the shipped policy on generated problems,
    /// configs/mini.yaml with <paramref name="rollouts"/> rollouts of 2 updates per iteration) at the given lag.
    /// </summary>
    public static async Task<LagRun> MiniIterationsAsync(string modelDirectory, string configFile, int maxPolicyLag, int iterations, int rollouts,
        string workDirectory, TextWriter? log, CancellationToken cancellationToken)
    {
        string data = Path.Combine(workDirectory, "data");
        if (!File.Exists(Path.Combine(data, "train.jsonl")))
            MiniDataset.Write(MiniDataset.Generate(trainCount: Math.Max(200, rollouts * iterations)), data);
        RlefConfig config = ConfigLoader.Load(configFile,
        [
            $"model.directory={Path.GetFullPath(modelDirectory)}",
            "data.kind=codecontests",
            $"data.train={Path.Combine(data, "train.jsonl")}",
            $"rollout.rollouts_per_iteration={rollouts}",
            "rollout.updates_per_iteration=2",
            $"rollout.max_policy_lag={maxPolicyLag}",
            $"schedule.total_updates={2 * iterations}",
            "schedule.validate_at_start=false",
            $"schedule.checkpoint_every={2 * iterations}",
        ]);
        InitialPolicy policy = RunSetup.LoadPolicy(config);
        var train = RunSetup.TrainProblems(config);
        string runDirectory = Path.Combine(workDirectory, $"lag{maxPolicyLag}-{Guid.NewGuid():N}");
        await using var executor = new SandboxPool();
        using var run = RunDirectory.Create(runDirectory, config);
        await using var trainer = new RlefTrainer(run, policy.Model, policy.Format, executor, train, []);
        double generation = 0, sandbox = 0, scoring = 0, update = 0;
        var wall = Stopwatch.StartNew();
        await trainer.RunAsync(r =>
        {
            generation += r.GenerationSeconds;
            sandbox += r.SandboxSeconds;
            scoring += r.ScoringSeconds;
            update += r.UpdateSeconds;
            log?.WriteLine($"  lag {maxPolicyLag}: iteration {r.Iteration} done at {wall.Elapsed.TotalSeconds:F1} s");
        }, cancellationToken);
        double seconds = wall.Elapsed.TotalSeconds;
        double idle = 0;
        foreach (string line in File.ReadLines(Path.Combine(runDirectory, MetricsLog.JsonlFileName)))
        {
            // learner idle time is logged once per update; count it once per iteration (updates 1, 3, …).
            var node = System.Text.Json.Nodes.JsonNode.Parse(line);
            if (node?["actors/learner_idle_s"] is { } v && node["step"]!.GetValue<long>() % 2 == 1) idle += v.GetValue<double>();
        }
        return new LagRun(maxPolicyLag, iterations, seconds, generation, sandbox, scoring, update, idle);
    }
}
