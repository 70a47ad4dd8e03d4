using System.Text.Json.Nodes;
using Rlef.Sandbox;
using Rlef.Training.Actors;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Runs;

namespace Rlef.Training.Tests.Trainer;

/// <summary>
/// rollout.max_policy_lag (docs/inference-servers.md §2): episodes older than the allowed lag are dropped and counted,
/// the lag histogram has one bucket per allowed lag plus "over", lags of 2 and more run end to end, and the explicit
/// synchronous setting (one embedded actor, lag 0) is the plain synchronous trainer, bit for bit.
/// </summary>
public sealed class PolicyLagTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void EpisodesOlderThanTheLagAreDroppedAndCounted(int maxLag)
    {
        const long learner = 10;
        // Lags 0 … maxLag + 2, lag maxLag twice: the last three are too old.
        long[] sampledWith = [.. Enumerable.Range(0, maxLag + 3).Select(lag => learner - lag), learner - maxLag];
        PolicyLags lags = PolicyLags.Of(sampledWith, learner, maxLag);

        int[] expectedKept = [.. Enumerable.Range(0, maxLag + 1), sampledWith.Length - 1];
        Assert.Equal(expectedKept, lags.Kept);
        Assert.Equal(2, lags.Dropped);
        Assert.Equal(sampledWith.Average(v => learner - v), lags.Mean, 12);

        // Buckets actors/policy_lag_0 … _k, then _over; fractions of all the collection's episodes.
        string[] names = [.. Enumerable.Range(0, maxLag + 1).Select(MetricNames.PolicyLag), MetricNames.PolicyLagOver];
        Assert.Equal(names, lags.Histogram.Select(h => h.Name));
        double n = sampledWith.Length;
        for (int lag = 0; lag < maxLag; lag++) Assert.Equal(1 / n, lags.Histogram[lag].Fraction, 12);
        Assert.Equal(2 / n, lags.Histogram[maxLag].Fraction, 12);
        Assert.Equal(2 / n, lags.Histogram[maxLag + 1].Fraction, 12);
        Assert.Equal(1.0, lags.Histogram.Sum(h => h.Fraction), 12);
    }

    [Fact]
    public void AnEpisodeFromAVersionNewerThanTheLearnerIsAnError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => PolicyLags.Of([3, 5], learnerVersion: 4, maxPolicyLag: 2));
        Assert.Contains("version 5, newer than the learner's 4", e.Message);
    }

    [Fact]
    public async Task LagTwoRunsEndToEndWithTheHistogramOfItsBuckets()
    {
        const int total = 8; // 4 iterations of 2 updates
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-lag2-{Guid.NewGuid():N}");
        try
        {
            using (var run = RunDirectory.Create(dir, CrashRun.Config(total, maxPolicyLag: 2)))
                await CrashRun.RunAsync(run);

            JsonObject[] lines = File.ReadAllLines(Path.Combine(dir, MetricsLog.JsonlFileName)).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
            Assert.Equal(Enumerable.Range(1, total).Select(s => (long)s), lines.Select(l => l["step"]!.GetValue<long>()));
            foreach (JsonObject line in lines)
            {
                double[] buckets = [.. Enumerable.Range(0, 3).Select(lag => line[MetricNames.PolicyLag(lag)]!.GetValue<double>())];
                Assert.False(line.ContainsKey(MetricNames.PolicyLag(3)), "no bucket beyond the allowed lag but 'over'");
                Assert.Equal(0, line[MetricNames.PolicyLagOver]!.GetValue<double>());
                Assert.Equal(1.0, buckets.Sum(), 9);
                Assert.InRange(line[MetricNames.PolicyLagMean]!.GetValue<double>(), 0, 2);
                Assert.Equal(0, line[MetricNames.DroppedStale]!.GetValue<double>());
            }
            // Iteration 0 can only have been sampled by the start weights, version 0.
            Assert.Equal(1.0, lines[0][MetricNames.PolicyLag(0)]!.GetValue<double>());
            Checkpoint final = new CheckpointStore(Path.Combine(dir, RunDirectory.CheckpointsDirectory), 2).Latest()!;
            Assert.Equal(total, final.State.Step);
            Assert.Equal(0, final.State.Counters.GetValueOrDefault("dropped_stale_rollouts"));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task ExplicitEmbeddedActorWithLagZeroIsThePlainSynchronousTrainerBitForBit()
    {
        const int total = 4;
        string root = Path.Combine(Path.GetTempPath(), $"rlef-sync-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(root);
            RlefConfig plain = CrashRun.Config(total);
            // The same config as a user writes it: rollout.actors as a YAML list, max_policy_lag spelled out.
            JsonObject json = JsonNode.Parse(ConfigLoader.ToJson(plain))!.AsObject();
            json["rollout"]!["actors"] = new JsonArray("embedded");
            json["rollout"]!["max_policy_lag"] = 0;
            string file = Path.Combine(root, "explicit.json");
            File.WriteAllText(file, json.ToJsonString());
            RlefConfig spelled = ConfigLoader.Load(file);
            Assert.True(spelled.Rollout.Synchronous);

            var weights = new List<byte[]>();
            var metrics = new List<string[]>();
            foreach (var (name, config) in new[] { ("plain", plain), ("explicit", spelled) })
            {
                string dir = Path.Combine(root, name);
                using (var run = RunDirectory.Create(dir, config))
                {
                    await using var executor = new SandboxPool();
                    await using var trainer = new RlefTrainer(run, PrintTask.Model(seed: 3), PrintTask.Format, executor,
                        PrintTask.Problems(CrashRun.TrainProblems, seed: 9), []);
                    await trainer.RunAsync(_ => { });
                    weights.Add(trainer.Policy.Parameters.SelectMany(p => p.Data.SelectMany(BitConverter.GetBytes)).ToArray());
                }
                metrics.Add(File.ReadAllLines(Path.Combine(dir, MetricsLog.JsonlFileName)).Select(WithoutTimings).ToArray());
            }
            Assert.Equal(weights[0], weights[1]);
            Assert.Equal(total, metrics[0].Length);
            Assert.Equal(metrics[0], metrics[1]);
            Assert.DoesNotContain(metrics[1], l => l.Contains("actors/", StringComparison.Ordinal));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    // A metrics.jsonl line without what depends on the clock or the machine (times, rates, memory).
    static string WithoutTimings(string line)
    {
        JsonObject o = JsonNode.Parse(line)!.AsObject();
        foreach (string key in o.Select(p => p.Key).ToList())
            if (key.StartsWith("time/", StringComparison.Ordinal) || key.StartsWith("throughput/", StringComparison.Ordinal) ||
                key.StartsWith("memory/", StringComparison.Ordinal) || key.Contains("wall", StringComparison.Ordinal))
                o.Remove(key);
        return o.ToJsonString();
    }
}
