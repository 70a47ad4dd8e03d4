using Rlef.Engine.Optim;
using Rlef.Engine.Sampling;
using Rlef.Environment.Policies;
using Rlef.Training.Config;
using Rlef.Training.Rollouts;
using Rlef.Training.Sft;
using Rlef.Training.Tests.Trainer;

namespace Rlef.Training.Tests;

/// <summary>The paper's SFT recipe (App. A.3, docs/protocol.md §3.12) and the per-reply temperature of its data.</summary>
public sealed class SftRecipeTests
{
    [Fact]
    public void The_defaults_are_the_papers_recipe()
    {
        var sft = new SftConfig();
        Assert.Equal(5e-6, sft.LearningRate); // the paper swept 5e-6 and 2e-6
        Assert.Equal(2, sft.Epochs);          // 2-3 epochs
        Assert.Equal(64, sft.BatchSize);
        Assert.Equal(10, sft.WarmupSteps);
        Assert.Equal(LearningRateDecay.Cosine, sft.Decay);
        Assert.Equal(200, sft.EvalEvery);
        Assert.Equal(SftTarget.LastSuccessfulReply, sft.LossOn);
        Assert.Equal(0.1, TemperatureRange.Paper.Low);
        Assert.Equal(1.0, TemperatureRange.Paper.High);
        Assert.Empty(new RlefConfig().Validate());
        Assert.Contains(new RlefConfig { Sft = sft with { BatchSize = 0 } }.Validate(), e => e.Contains("sft.batch_size"));
    }

    [Fact]
    public void The_schedule_warms_up_over_ten_updates_then_decays_as_a_cosine()
    {
        var sft = new SftConfig();
        LearningRateSchedule schedule = SftTrainer.Schedule(sft, totalUpdates: 110);
        Assert.Equal(5e-7, schedule.At(0), 15);     // 1/10 of the peak: the first update already moves the weights
        Assert.Equal(2.5e-6, schedule.At(4), 15);
        Assert.Equal(5e-6, schedule.At(9), 15);     // the peak at the end of the warm-up
        Assert.Equal(5e-6, schedule.At(10), 15);    // the cosine starts at the peak
        Assert.Equal(2.5e-6, schedule.At(60), 15);  // halfway through the decay: half the peak
        Assert.Equal(5e-6 * 0.5 * (1 + Math.Cos(Math.PI * 99 / 100)), schedule.At(109), 15); // the last update: just above 0
        for (int s = 10; s < 109; s++) Assert.True(schedule.At(s + 1) < schedule.At(s));
        // A run no longer than its warm-up has nothing to decay over.
        Assert.Equal(5e-6, SftTrainer.Schedule(sft, totalUpdates: 10).At(9), 15);
        Assert.Equal(2 * 2, SftTrainer.TotalUpdates(sft, examples: 65, batchSize: 64)); // 2 epochs of ⌈65/64⌉
    }

    [Fact]
    public async Task Validation_every_eval_every_updates_and_at_the_end_keeps_the_best()
    {
        var config = PrintTask.Config(8, 1, 1, 1e-3) with { Sft = new SftConfig { LearningRate = 1e-3, Epochs = 1, BatchSize = 4, WarmupSteps = 0, EvalEvery = 2 } };
        var trainer = new SftTrainer(PrintTask.Model(seed: 3), config);
        var examples = trainer.Examples(PrintTask.WarmStartTrajectories(PrintTask.Problems(20, seed: 11), seed: 12)); // 5 updates
        var scores = new Queue<double>([0.2, 0.5, 0.4]);
        var seen = new List<SftValidation>();
        var steps = new List<long>();
        await trainer.TrainAsync(examples, onUpdate: (step, _) => steps.Add(step),
            validate: _ => { return Task.FromResult(scores.Dequeue()); }, onValidation: seen.Add);
        Assert.Equal([1, 2, 3, 4, 5], steps);
        Assert.Equal([2L, 4, 5], seen.Select(v => v.Step)); // every 2 updates, and after the last
        Assert.Equal([true, true, false], seen.Select(v => v.IsBest));
        Assert.Equal(new SftValidation(4, 0.5, true), trainer.Best);
        Assert.Empty(scores);
        // Ties keep the earlier validation.
        var again = new SftTrainer(PrintTask.Model(seed: 3), config);
        Assert.True(again.Record(2, 0.5).IsBest);
        Assert.False(again.Record(4, 0.5).IsBest);
        Assert.Equal(2, again.Best!.Step);
    }

    [Fact]
    public async Task Each_reply_of_the_engine_is_sampled_at_its_own_drawn_temperature_and_reports_it()
    {
        var range = new TemperatureRange(0.1, 1.0, Seed: 9);
        var sampling = new SamplingOptions { Temperature = 1.0f, MaxTokens = 8, Seed = 5 };
        using var policy = new ModelPolicy(PrintTask.Model(seed: 3), PrintTask.Format, sampling, concurrentEpisodes: 4, "test", temperatures: range);
        var contexts = Enumerable.Range(0, 4).Select(i => new PolicyContext($"t{i}", 0, 0, 3)).ToList();
        var replies = await Task.WhenAll(contexts.Select(c =>
            policy.ReplyAsync(new Conversation([ChatMessage.User($"Print the number of {c.TaskId}")]), c, default)));
        for (int i = 0; i < contexts.Count; i++)
        {
            Assert.NotNull(replies[i].Temperature);
            Assert.InRange(replies[i].Temperature!.Value, 0.1, 1.0);
            Assert.Equal((float)range.Draw(contexts[i]), (float)replies[i].Temperature!.Value);
        }
        Assert.Contains("U(0.1, 1)", policy.Describe());
    }

    [Fact]
    public void The_generator_samples_each_sequence_at_its_own_temperature()
    {
        var model = PrintTask.Model(seed: 3);
        var prompt = PrintTask.Format.EncodeChat([new Rlef.Engine.Tokenizers.ChatMessage("user", "Print the number of t1")], addGenerationPrompt: true);
        var generator = new Generator(model);
        var options = new SamplingOptions { Temperature = 1.0f, MaxTokens = 12, Seed = 1 };
        var greedy = generator.Generate([prompt], options with { Temperature = 0 })[0].Tokens;
        // Sequence 0 greedy, sequence 1 at temperature 1: the first equals the greedy continuation whatever its neighbour.
        var mixed = generator.Generate([prompt, prompt], options, sequenceSeeds: [7, 8], sequenceTemperatures: [0f, 1f]);
        Assert.Equal(greedy, mixed[0].Tokens);
        // A temperature equal to the options' changes nothing.
        var plain = generator.Generate([prompt, prompt], options, sequenceSeeds: [7, 8]);
        var same = generator.Generate([prompt, prompt], options, sequenceSeeds: [7, 8], sequenceTemperatures: [1f, 1f]);
        Assert.Equal(plain.Select(g => g.Tokens), same.Select(g => g.Tokens));
        Assert.Throws<ArgumentException>(() => generator.Generate([prompt], options, sequenceTemperatures: [1f, 1f]));
    }
}
