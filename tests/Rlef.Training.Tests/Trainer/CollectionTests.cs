using Rlef.Sandbox;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Training.Config;
using Rlef.Training.Rollouts;
using Rlef.Training.Runs;
using Xunit.Abstractions;
using Rlef.Training.Ppo;

namespace Rlef.Training.Tests.Trainer;

/// <summary>Multi-turn collection with the engine policy, and the time split of one whole PPO iteration.</summary>
public sealed class CollectionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MultiTurnEpisodesKeepTheExactSampledTokensAndTheirScores()
    {
        // An untrained model writes no code fence: every turn is invalid, so each episode runs all three turns and
        // turn 2 and 3 prompts are the chat continuation of the invalid-code reply.
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 6, updatesPerIteration: 2, totalUpdates: 2, learningRate: 1e-3) with
        {
            Ablation = new AblationConfig(),
            Rollout = new RolloutConfig { RolloutsPerIteration = 6, UpdatesPerIteration = 2, MaxReplyTokens = 12 },
        };
        LlamaModel policy = PrintTask.Model(seed: 5);
        LlamaModel reference = policy.Clone();
        LlamaModel value = policy.CreateValueModel(9);
        await using var executor = new SandboxPool();
        var collector = new Rollouts.RolloutCollector(executor, PrintTask.Format, config);
        var collected = await collector.CollectAsync(policy, reference, value, PrintTask.Problems(6, seed: 1), seed: 4);

        Assert.Equal(6, collected.Episodes.Count);
        int[] continuation = PrintTask.Format.EncodeContinuation(Templates.InvalidCodeReply, assistantTurnClosed: true);
        int[] unclosed = PrintTask.Format.EncodeContinuation(Templates.InvalidCodeReply, assistantTurnClosed: false);
        foreach (var (episode, rollout) in collected.Episodes.Zip(collected.Rollouts))
        {
            Assert.Equal(3, episode.Turns.Count);
            Assert.All(episode.Turns, t => Assert.True(t.InvalidCode));
            Assert.False(episode.Solved);
            for (int t = 0; t < 3; t++)
            {
                var turn = episode.Turns[t];
                // The reply text the environment saw is the decoded sampled ids.
                Assert.Equal(PrintTask.Format.Tokenizer.Decode(turn.ReplyTokens, skipSpecialTokens: true), rollout.Turns[t].Reply);
                if (t > 0)
                {
                    bool closed = PrintTask.Format.StopIds.Contains(episode.Turns[t - 1].ReplyTokens[^1]);
                    Assert.Equal(closed ? continuation : unclosed, turn.PromptTokens);
                }
            }
            // Reference log-probs and values are those of the whole sequence, scored in one pass.
            int[] sequence = episode.Turns.SelectMany(t => t.PromptTokens.Concat(t.ReplyTokens)).ToArray();
            float[] logp = Scorer.LogProbs(reference, [sequence])[0];
            float[] values = Scorer.Values(value, [sequence])[0];
            int at = 0;
            foreach (var turn in episode.Turns)
            {
                at += turn.PromptTokens.Length;
                Assert.Equal(values[at - 1], turn.Value, 4);
                for (int k = 0; k < turn.ReplyTokens.Length; k++)
                {
                    Assert.Equal(logp[at - 1 + k], turn.ReferenceLogProbs[k], 3);
                    // Same weights: behaviour = reference up to the batched-decode vs teacher-forcing rounding.
                    Assert.Equal(turn.ReferenceLogProbs[k], turn.BehaviourLogProbs[k], 2);
                }
                at += turn.ReplyTokens.Length;
            }
        }
    }

    [Fact]
    public async Task TokenLevelValueAndNoFeedbackAblationsRunAWholeIteration()
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 4, updatesPerIteration: 2, totalUpdates: 2, learningRate: 1e-3) with
        {
            Ablation = new AblationConfig { NoExecutionFeedback = true, ValueFunction = ValueLevel.Token },
            Rollout = new RolloutConfig { RolloutsPerIteration = 4, UpdatesPerIteration = 2, MaxReplyTokens = 8 },
        };
        // Without execution feedback every episode runs to the turn limit (docs/protocol.md §3), whatever its code does.
        Assert.Equal(FeedbackMode.None, new Rollouts.RolloutCollector(null!, PrintTask.Format, config).EpisodeOptions.Feedback);
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-ablate-{Guid.NewGuid():N}");
        try
        {
            await using var executor = new SandboxPool();
            using var run = RunDirectory.Create(dir, config);
            var trainer = new RlefTrainer(run, PrintTask.Model(seed: 2), PrintTask.Format, executor, PrintTask.Problems(4, seed: 3), []);
            var collected = await trainer.Collector.CollectAsync(trainer.Policy, PrintTask.Model(seed: 2), trainer.ValueModel, PrintTask.Problems(4, seed: 3), seed: 1);
            foreach (var episode in collected.Episodes)
            {
                Assert.Equal(3, episode.Turns.Count);
                Assert.All(episode.Turns, t => Assert.Equal(t.ReplyTokens.Length, t.TokenValues!.Length));
                Assert.All(episode.Turns, t => Assert.Equal(t.Value, t.TokenValues![0]));
            }
            IterationReport report = await trainer.IterationAsync();
            Assert.Equal(2, report.LastStep);
            Assert.All(report.Updates, u => Assert.True(double.IsFinite(u.Loss.ValueLoss) && double.IsFinite(u.Loss.PolicyLoss)));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task GroupMeanBaselineRollsEachProblemOutSeveralTimesSideBySide()
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 8, updatesPerIteration: 2, totalUpdates: 2, learningRate: 1e-3) with
        {
            Ppo = new PpoConfig { Baseline = AdvantageBaseline.GroupMean },
            Rollout = new RolloutConfig { RolloutsPerIteration = 8, UpdatesPerIteration = 2, RolloutsPerProblem = 4, MaxReplyTokens = 8 },
        };
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-group-{Guid.NewGuid():N}");
        try
        {
            await using var executor = new SandboxPool();
            using var run = RunDirectory.Create(dir, config);
            var trainer = new RlefTrainer(run, PrintTask.Model(seed: 2), PrintTask.Format, executor, PrintTask.Problems(6, seed: 3), []);
            IterationReport report = await trainer.IterationAsync();
            // Two problems, each four times in a row; the next iteration moves on to the next two.
            Assert.Equal(2, report.ProblemIds.Distinct().Count());
            Assert.All(report.ProblemIds.Chunk(4), group => Assert.Single(group.Distinct()));
            IterationReport next = await trainer.IterationAsync();
            Assert.Empty(next.ProblemIds.Intersect(report.ProblemIds));
            Assert.All(report.Updates.Concat(next.Updates), u => Assert.True(double.IsFinite(u.Loss.PolicyLoss)));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The time split of one PPO iteration on a small model (printed; timings are never asserted).</summary>
    [Fact]
    public async Task OneIterationTimeSplitIsReported()
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 16, updatesPerIteration: 2, totalUpdates: 2, learningRate: 1e-3) with
        {
            Ablation = new AblationConfig(),
            Rollout = new RolloutConfig { RolloutsPerIteration = 16, UpdatesPerIteration = 2, MaxReplyTokens = 48 },
        };
        var model = LlamaModel.CreateRandom(LlamaConfig.Create(PrintTask.Format.Tokenizer.VocabSize, 128, 4, 4, 4, 384, 1024), 1);
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-split-{Guid.NewGuid():N}");
        try
        {
            await using var executor = new SandboxPool();
            using var run = RunDirectory.Create(dir, config);
            var trainer = new RlefTrainer(run, model, PrintTask.Format, executor, PrintTask.Problems(16, seed: 2), []);
            IterationReport r = await trainer.IterationAsync();
            double total = r.GenerationSeconds + r.SandboxSeconds + r.ScoringSeconds + r.UpdateSeconds;
            output.WriteLine($"one PPO iteration, {model.ParameterCount:N0}-parameter model (d=128, 4 layers), {r.Rollouts.Episodes} episodes, " +
                $"{r.Rollouts.Turns} turns, {r.Rollouts.ReplyTokens} reply tokens, {r.Updates.Count} updates:");
            output.WriteLine($"  generation {r.GenerationSeconds:F2} s ({r.GenerationSeconds / total:P0}), sandbox (not overlapped) {r.SandboxSeconds:F2} s ({r.SandboxSeconds / total:P0}), " +
                $"reference+value scoring {r.ScoringSeconds:F2} s ({r.ScoringSeconds / total:P0}), updates {r.UpdateSeconds:F2} s ({r.UpdateSeconds / total:P0})");
            Assert.Equal(2, r.LastStep);
            Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, "metrics.jsonl")).Length);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>
/// Episodes that come back from the "sandbox" after random delays, so that with a batch window the batches would
/// differ from run to run (and a sequence's logits with them, in the last bits): in lock step every run samples the
/// same batches, so the same tokens and log-probs to the last bit.
/// </summary>
public sealed class LockStepBatchingTests
{
    static async Task<List<SampledTurn>> RunEpisodesAsync(LlamaModel model, bool lockStep)
    {
        var sampling = new SamplingOptions { Temperature = 1f, TopP = 1f, MaxTokens = 6, Seed = 3 };
        var policy = new EnginePolicy(model, PrintTask.Format, sampling, maxBatch: 8, TimeSpan.FromMilliseconds(1), lockStep);
        const int count = 12;
        int live = count;
        var episodes = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            try
            {
                var messages = new List<ChatMessage> { ChatMessage.User($"print {i}") };
                for (int turn = 0; turn < 3; turn++)
                {
                    await Task.Delay(Random.Shared.Next(0, 25));  // the sandbox, taking its time
                    PolicyReply reply = await policy.ReplyAsync(new Conversation(messages), new PolicyContext($"task{i}", i, turn, 3), CancellationToken.None);
                    if (i % 3 == turn) break;  // episodes end at different turns
                    messages.Add(ChatMessage.Assistant(reply.Text));
                    messages.Add(ChatMessage.User($"feedback {turn}"));
                }
            }
            finally
            {
                Interlocked.Decrement(ref live);
            }
        })).ToArray();
        Task all = Task.WhenAll(episodes);
        await Task.WhenAll(all, policy.ServeAsync(() => Volatile.Read(ref live), all, CancellationToken.None));
        return Enumerable.Range(0, count).SelectMany(policy.TurnsOf).ToList();
    }

    [Fact]
    public async Task LockStepRunsAreIdenticalToTheLastBitWhateverTheTiming()
    {
        LlamaModel model = PrintTask.Model(seed: 5);
        List<SampledTurn> first = await RunEpisodesAsync(model, lockStep: true);
        for (int run = 0; run < 2; run++)
        {
            List<SampledTurn> again = await RunEpisodesAsync(model, lockStep: true);
            Assert.Equal(first.Count, again.Count);
            foreach (var (a, b) in first.Zip(again))
            {
                Assert.Equal(a.PromptTokens, b.PromptTokens);
                Assert.Equal(a.ReplyTokens, b.ReplyTokens);
                Assert.Equal(a.LogProbs, b.LogProbs);  // bit for bit
            }
        }
    }
}

/// <summary>
/// The collector end to end: the same collection twice gives the same episodes to the last bit (tokens, behaviour
/// and reference log-probs, values). Timing itself is covered by <see cref="LockStepBatchingTests"/>.
/// </summary>
public sealed class CollectionDeterminismTests
{
    [Fact]
    public async Task TwoCollectionsWithTheSameSeedAreIdentical()
    {
        RlefConfig config = PrintTask.Config(rolloutsPerIteration: 8, updatesPerIteration: 2, totalUpdates: 2, learningRate: 1e-3) with
        {
            Ablation = new AblationConfig(),
            Rollout = new RolloutConfig { RolloutsPerIteration = 8, UpdatesPerIteration = 2, MaxReplyTokens = 10 },
            Engine = new EngineConfig { GenerationBatch = 3, BatchWindowMs = 2 },
        };
        LlamaModel policy = PrintTask.Model(seed: 5);
        LlamaModel reference = policy.Clone();
        LlamaModel value = policy.CreateValueModel(9);
        await using var executor = new SandboxPool();
        var problems = PrintTask.Problems(8, seed: 2);
        var first = await new Rollouts.RolloutCollector(executor, PrintTask.Format, config).CollectAsync(policy, reference, value, problems, seed: 11);
        var second = await new Rollouts.RolloutCollector(executor, PrintTask.Format, config).CollectAsync(policy, reference, value, problems, seed: 11);
        Assert.Equal(first.Episodes.Count, second.Episodes.Count);
        foreach (var (a, b) in first.Episodes.Zip(second.Episodes))
        {
            Assert.Equal(a.Turns.Count, b.Turns.Count);
            foreach (var (x, y) in a.Turns.Zip(b.Turns))
            {
                Assert.Equal(x.ReplyTokens, y.ReplyTokens);
                Assert.Equal(x.BehaviourLogProbs, y.BehaviourLogProbs);  // bit for bit
                Assert.Equal(x.ReferenceLogProbs, y.ReferenceLogProbs);
                Assert.Equal(x.Value, y.Value);
            }
        }
    }
}
