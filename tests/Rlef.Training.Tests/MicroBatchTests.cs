using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Runs;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Tests;

public class MicroBatchTests
{
    /// <summary>Random episodes of 1–3 turns with random lengths, log-probs and values.</summary>
    internal static List<TrainingEpisode> RandomEpisodes(int count, ulong seed, bool tokenValues)
    {
        var rng = new Xoshiro256(seed);
        float Lp() => (float)(-3 * rng.NextDouble());
        var episodes = new List<TrainingEpisode>();
        for (int e = 0; e < count; e++)
        {
            var turns = new List<TrainingTurn>();
            int turnCount = 1 + rng.NextInt(3);
            for (int t = 0; t < turnCount; t++)
            {
                int length = 1 + rng.NextInt(6);
                float value = (float)(2 * rng.NextDouble() - 1);
                turns.Add(new TrainingTurn
                {
                    PromptTokens = [1 + rng.NextInt(100), 2],
                    ReplyTokens = Enumerable.Range(0, length).Select(_ => rng.NextInt(100)).ToArray(),
                    BehaviourLogProbs = Enumerable.Range(0, length).Select(_ => Lp()).ToArray(),
                    ReferenceLogProbs = Enumerable.Range(0, length).Select(_ => Lp()).ToArray(),
                    Value = value,
                    TokenValues = tokenValues ? Enumerable.Range(0, length).Select(k => k == 0 ? value : (float)(2 * rng.NextDouble() - 1)).ToArray() : null,
                    InvalidCode = t < turnCount - 1 && rng.NextInt(4) == 0,
                });
            }
            episodes.Add(new TrainingEpisode($"p{e}", turns, Solved: rng.NextInt(2) == 0));
        }
        return episodes;
    }

    [Theory]
    [InlineData(ValueLevel.Turn)]
    [InlineData(ValueLevel.Token)]
    public void Slices_add_up_to_the_whole_minibatch(ValueLevel level)
    {
        var config = new RlefConfig { Ablation = new AblationConfig { ValueFunction = level } };
        PpoBatch batch = PpoBatch.Build(RandomEpisodes(16, 5, tokenValues: level == ValueLevel.Token), config);
        int[][] minibatches = Minibatches.Split(16, 2, new Xoshiro256(2));
        PpoMinibatch mb = batch.Minibatch(minibatches[0]);

        var rng = new Xoshiro256(8);
        float[] logProbs = mb.BehaviourLogProbs.Select(lp => lp + (float)(0.6 * rng.NextDouble() - 0.3)).ToArray();
        float[] values = mb.OldValues.Select(v => v + (float)(0.6 * rng.NextDouble() - 0.3)).ToArray();
        float[] entropies = mb.BehaviourLogProbs.Select(_ => (float)rng.NextDouble()).ToArray();
        PpoLossResult whole = PpoLoss.Compute(mb, logProbs, values, config.Ppo, entropies);

        var parts = new List<PpoLossResult>();
        int tokenAt = 0, valueAt = 0;
        for (int first = 0; first < mb.Episodes.Count; first += 3)
        {
            PpoMinibatch slice = mb.Slice(first, Math.Min(3, mb.Episodes.Count - first));
            parts.Add(PpoLoss.Compute(slice, logProbs.AsSpan(tokenAt, slice.TokenCount), values.AsSpan(valueAt, slice.ValuePointCount),
                config.Ppo, entropies.AsSpan(tokenAt, slice.TokenCount)));
            Assert.Equal(mb.Advantages[tokenAt..(tokenAt + slice.TokenCount)], slice.Advantages);
            tokenAt += slice.TokenCount;
            valueAt += slice.ValuePointCount;
        }
        Assert.Equal(mb.TokenCount, tokenAt);
        Assert.Equal(mb.ValuePointCount, valueAt);

        PpoLossResult summed = PpoLossResult.Sum(parts);
        Assert.Equal(whole.PolicyLoss, summed.PolicyLoss, 1e-9);
        Assert.Equal(whole.ValueLoss, summed.ValueLoss, 1e-9);
        Assert.Equal(whole.ClipFraction, summed.ClipFraction, 1e-9);
        Assert.Equal(whole.ApproxKlOld, summed.ApproxKlOld, 1e-9);
        Assert.Equal(whole.KlReference, summed.KlReference, 1e-9);
        Assert.Equal(whole.Entropy, summed.Entropy, 1e-9);
        Assert.Equal(whole.DLogProb, summed.DLogProb);
        Assert.Equal(whole.DValue, summed.DValue);
        Assert.InRange(whole.ClipFraction, 0.01, 0.99); // the perturbation reached both sides of the clip
    }

    [Fact]
    public void Paper_learning_rate_warms_up_over_50_updates_then_stays_at_2e_7()
    {
        var config = new OptimizerConfig();
        var schedule = new Rlef.Engine.Optim.LearningRateSchedule(config.LearningRate, config.WarmupSteps);
        Assert.Equal(2e-7 / 50, schedule.At(0), 1e-20);   // update 1
        Assert.Equal(2e-7 / 2, schedule.At(24), 1e-20);   // update 25
        Assert.Equal(2e-7, schedule.At(49));              // update 50: warm-up done
        Assert.Equal(2e-7, schedule.At(11_999));          // the last of 12,000 updates
    }

    [Fact]
    public void Update_metrics_have_unique_names_in_a_fixed_order()
    {
        PpoBatch batch = PpoBatch.Build(RandomEpisodes(4, 1, tokenValues: false), new RlefConfig());
        PpoMinibatch mb = batch.Minibatch([0, 1, 2, 3]);
        PpoLossResult loss = PpoLoss.Compute(mb, mb.BehaviourLogProbs, mb.OldValues, new PpoConfig());
        var metrics = UpdateMetrics.Build(loss, batch.Stats, 1e-7, 123, new Dictionary<Phase, double> { [Phase.Generation] = 2, [Phase.Update] = 1 });
        Assert.Equal(metrics.Count, metrics.Select(m => m.Key).Distinct().Count());
        Assert.Equal("loss/policy", metrics[0].Key);
        Assert.Contains(metrics, m => m.Key == "time/generation_s" && m.Value == 2);
        Assert.Contains(metrics, m => m.Key == "rollout/solve_rate" && m.Value == batch.Stats.SolveRate);
    }
}
