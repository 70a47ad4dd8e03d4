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
/// <remarks>
/// Wall-clock rates are what the target is stated in, but on a shared machine a round of a few hundred milliseconds
/// gets whatever CPU share the load leaves it (single rounds ranged from 0.2× to 8× here), so the record also carries
/// the median of the per-round ratios, which one preempted round does not move. <see cref="SameTokens"/>: every HTTP
/// reply equalled the in-process one (same prompts and seeds).
/// </remarks>
public sealed record ServeThroughput(int Concurrency, int Requests, int Repeats, long HttpTokens, double HttpSeconds, long InProcessTokens,
    double InProcessSeconds, double ServerMeanBatch, double ServerGenerationSeconds, double MedianRoundRatio, bool SameTokens)
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
/// loopback, SGLang's /generate in its batch form) against the in-process batched sampler on the same
/// prompts and seeds, at each concurrency, the two measured alternately in the same run; (2) RLEF iterations of the
/// miniature with max_policy_lag 0 (the synchronous trainer) and 1 (an embedded actor sampling the next iteration
/// while the learner updates), wall time and its split.
/// </summary>
public static class ServeBenchmark
{
    /// <summary>Untimed rounds on each path before the measured ones.</summary>
    public const int WarmupRounds = 2;

    /// <param name="repeats">How many times the requests are sent (each time in alternating rounds): more rounds, less noise.</param>
    public static async Task<ServeThroughput> ThroughputAsync(string modelDirectory, int concurrency, int requests, int maxTokens,
        int repeats, TextWriter? log, CancellationToken cancellationToken)
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

        // Warm-up, untimed: full rounds of the measured shape on both paths, so that the engine's kernels, the
        // generator and the HTTP path run tier-1 JIT code before anything is timed (docs/inference-servers.md §6:
        // rounds of a few hundred milliseconds measured on tier-0 code, HTTP always first, made the ratio swing 0.4–1.2).
        var first = prompts.Take(concurrency).ToList();
        for (int w = 0; w < WarmupRounds; w++)
        {
            await http.SampleAsync(first, options, cancellationToken);
            local.Sample(first, options);
        }
        double warmupGeneration;
        long warmupBatches, warmupSequences;
        lock (server.Model.Scheduler.Counters)
        {
            warmupGeneration = server.Model.Scheduler.Counters.GenerationSeconds;
            warmupBatches = server.Model.Scheduler.Counters.Batches;
            warmupSequences = server.Model.Scheduler.Counters.Sequences;
        }

        long httpTokens = 0, localTokens = 0;
        double httpSeconds = 0, localSeconds = 0;
        bool sameTokens = true;
        var roundRatios = new List<double>();
        // Alternate the two in rounds of `concurrency` requests so that load on a shared machine hits both alike, and
        // swap which goes first every round so that neither always runs right after the other.
        int roundsPerPass = (requests + concurrency - 1) / concurrency;
        for (int roundIndex = 0; roundIndex < repeats * roundsPerPass; roundIndex++)
        {
            int start = roundIndex % roundsPerPass * concurrency;
            var round = prompts.Skip(start).Take(concurrency).ToList();
            IReadOnlyList<Generation> remote = [], inProcess = [];
            double h = 0, l = 0;
            for (int half = 0; half < 2; half++)
            {
                var clock = Stopwatch.StartNew();
                if ((half == 0) == (roundIndex % 2 == 0))
                {
                    remote = await http.SampleAsync(round, options, cancellationToken);
                    h = clock.Elapsed.TotalSeconds;
                }
                else
                {
                    // In process: what an embedded actor does, one batched call for the round's sequences.
                    inProcess = local.Sample(round, options);
                    l = clock.Elapsed.TotalSeconds;
                }
            }
            long hTokens = remote.Sum(g => (long)g.Tokens.Length), lTokens = inProcess.Sum(g => (long)g.Tokens.Length);
            sameTokens &= remote.Count == inProcess.Count && remote.Zip(inProcess).All(p => p.First.Tokens.SequenceEqual(p.Second.Tokens));
            httpSeconds += h;
            localSeconds += l;
            httpTokens += hTokens;
            localTokens += lTokens;
            roundRatios.Add(hTokens / h / (lTokens / l));
            log?.WriteLine($"  concurrency {concurrency}: {start + round.Count}/{requests} requests, pass {roundIndex / roundsPerPass + 1}/{repeats} (round ratio {roundRatios[^1]:F2})");
        }
        await server.Host.StopAsync();
        var counters = server.Model.Scheduler.Counters;
        double meanBatch, generationSeconds;
        lock (counters)
        {
            meanBatch = (counters.Sequences - warmupSequences) / (double)Math.Max(1, counters.Batches - warmupBatches);
            generationSeconds = counters.GenerationSeconds - warmupGeneration;
        }
        roundRatios.Sort();
        double median = roundRatios.Count % 2 == 1 ? roundRatios[roundRatios.Count / 2]
            : (roundRatios[roundRatios.Count / 2 - 1] + roundRatios[roundRatios.Count / 2]) / 2;
        return new ServeThroughput(concurrency, requests, repeats, httpTokens, httpSeconds, localTokens, localSeconds, meanBatch, generationSeconds,
            median, sameTokens);
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
