using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tests.Model;

namespace Rlef.Engine.Tests.Sampling;

public class SamplingTests
{
    private static readonly float[] Logits = [2f, 1f, 0.5f, -1f, 3f, 0f];

    [Fact]
    public void Greedy_and_top_k_one_pick_the_argmax_and_report_the_raw_log_prob()
    {
        var sampler = new TokenSampler(Logits.Length);
        double logZ = Math.Log(Logits.Sum(x => Math.Exp(x)));
        var (greedy, lp) = sampler.Sample(Logits, new SamplingOptions { Temperature = 0 }, new Random(1));
        Assert.Equal(4, greedy);
        Assert.Equal(3 - logZ, lp, 5);
        for (int s = 0; s < 20; s++)
            Assert.Equal(4, sampler.Sample(Logits, new SamplingOptions { TopK = 1 }, new Random(s)).Token);
    }

    [Fact]
    public void Frequencies_follow_the_truncated_renormalised_distribution()
    {
        var sampler = new TokenSampler(Logits.Length);
        var p = Logits.Select(x => Math.Exp(x)).ToArray();
        double z = p.Sum();
        // Sorted: token 4 (0.605), 0 (0.223), 1 (0.082), 2 (0.050), 5 (0.030), 3 (0.011). top_p 0.85 keeps {4, 0, 1}
        // (0.828 < 0.85 ≤ 0.909).
        var options = new SamplingOptions { TopP = 0.85f };
        var counts = new int[Logits.Length];
        var rng = new Random(123);
        const int draws = 20000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits, options, rng).Token]++;
        double kept = p[4] + p[0] + p[1];
        Assert.Equal(0, counts[2] + counts[3] + counts[5]);
        Assert.InRange(counts[4] / (double)draws, p[4] / kept - 0.02, p[4] / kept + 0.02);
        Assert.InRange(counts[1] / (double)draws, p[1] / kept - 0.02, p[1] / kept + 0.02);

        // top-k 2 then temperature 2: tokens 4 and 0 with probabilities ∝ exp(x/2).
        Array.Clear(counts);
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits, new SamplingOptions { TopK = 2, Temperature = 2 }, rng).Token]++;
        double p4 = Math.Exp(1.5) / (Math.Exp(1.5) + Math.Exp(1.0));
        Assert.Equal(draws, counts[4] + counts[0]);
        Assert.InRange(counts[4] / (double)draws, p4 - 0.02, p4 + 0.02);
    }

    [Fact]
    public void Batched_generation_with_different_prompt_lengths_equals_one_at_a_time_and_scoring()
    {
        var config = TinyModels.Config(qkvBias: true);
        var model = TinyModels.Random(config, seed: 3);
        int[][] prompts = [[1, 2, 3, 4, 5, 6], [7], [8, 9, 10]];
        var options = new SamplingOptions { Temperature = 1, MaxTokens = 7, Seed = 42 };
        var generator = new Generator(model);
        var batched = generator.Generate(prompts, options);

        // Sequence i draws from its own (seed, i) stream, so generating it alone with its index's stream is the same…
        // but alone it is index 0; compare greedy decoding instead, which has no randomness.
        var greedy = options with { Temperature = 0 };
        var greedyBatched = generator.Generate(prompts, greedy);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = generator.Generate([prompts[i]], greedy)[0];
            Assert.Equal(alone.Tokens, greedyBatched[i].Tokens);
            for (int j = 0; j < alone.LogProbs.Length; j++) Assert.Equal(alone.LogProbs[j], greedyBatched[i].LogProbs[j], 1e-4f);
        }

        // The reported log-probs equal teacher-forced scoring of prompt + reply.
        var sequences = prompts.Select((p, i) => (IReadOnlyList<int>)p.Concat(batched[i].Tokens).ToArray()).ToArray();
        var scored = Scorer.LogProbs(model, sequences, maxBatchTokens: 16);
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(7, batched[i].Tokens.Length);
            Assert.Equal(FinishReason.Length, batched[i].FinishReason);
            for (int j = 0; j < 7; j++) Assert.Equal(scored[i][prompts[i].Length - 1 + j], batched[i].LogProbs[j], 1e-4f);
        }

        // Same seed, same samples; another seed, (almost surely) other samples.
        var again = generator.Generate(prompts, options);
        Assert.Equal(batched.Select(g => g.Tokens), again.Select(g => g.Tokens));
        var other = generator.Generate(prompts, options with { Seed = 7 });
        Assert.NotEqual(batched.SelectMany(g => g.Tokens), other.SelectMany(g => g.Tokens));
    }

    [Fact]
    public void Sequence_seeds_make_a_sequence_s_samples_independent_of_its_batch()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 5);
        int[][] prompts = [[1, 2, 3, 4, 5, 6], [7], [8, 9, 10]];
        int[] seeds = [101, 202, 303];
        var options = new SamplingOptions { Temperature = 1, MaxTokens = 9, Seed = 42 };
        var generator = new Generator(model);
        var batched = generator.Generate(prompts, options, sequenceSeeds: seeds);
        for (int i = 0; i < prompts.Length; i++)
        {
            // Alone, or in a batch of another order and size, sequence i draws the same tokens from its own seed.
            var alone = generator.Generate([prompts[i]], options with { Seed = 9 }, sequenceSeeds: [seeds[i]])[0];
            Assert.Equal(batched[i].Tokens, alone.Tokens);
        }
        var reordered = generator.Generate([prompts[2], prompts[0]], options, sequenceSeeds: [seeds[2], seeds[0]]);
        Assert.Equal(batched[2].Tokens, reordered[0].Tokens);
        Assert.Equal(batched[0].Tokens, reordered[1].Tokens);
        var otherSeeds = generator.Generate(prompts, options, sequenceSeeds: [1, 2, 3]);
        Assert.NotEqual(batched.SelectMany(g => g.Tokens), otherSeeds.SelectMany(g => g.Tokens));
        Assert.Throws<ArgumentException>(() => generator.Generate(prompts, options, sequenceSeeds: [1]));
    }

    [Fact]
    public void Generation_stops_on_stop_tokens_and_stop_strings()
    {
        var config = TinyModels.Config();
        var model = TinyModels.Random(config, seed: 12);
        var generator = new Generator(model);
        int[][] prompts = [[1, 2], [3]];
        var free = generator.Generate(prompts, new SamplingOptions { Temperature = 0, MaxTokens = 6 });
        int stopToken = free[0].Tokens[2];
        var stopped = generator.Generate(prompts, new SamplingOptions { Temperature = 0, MaxTokens = 6, StopTokenIds = [stopToken] });
        int firstStop = Array.IndexOf(free[0].Tokens, stopToken);
        Assert.Equal(FinishReason.StopToken, stopped[0].FinishReason);
        Assert.Equal(free[0].Tokens[..(firstStop + 1)], stopped[0].Tokens);
        // Sequence 1 keeps decoding after sequence 0 left the batch (the cache is compacted): same tokens as before.
        int stop1 = Array.IndexOf(free[1].Tokens, stopToken);
        Assert.True(stop1 < 0 || stop1 > firstStop, "sequence 1 must outlive sequence 0 for this test to cover compaction");
        Assert.Equal(stop1 < 0 ? free[1].Tokens : free[1].Tokens[..(stop1 + 1)], stopped[1].Tokens);
        for (int j = 0; j < stopped[1].Tokens.Length; j++) Assert.Equal(free[1].LogProbs[j], stopped[1].LogProbs[j], 1e-4f);

        // Decode each id as a letter; stop at the text of the second generated token of sequence 1.
        static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(id => (char)('a' + id)));
        string stop = Decode([free[1].Tokens[1]]);
        var byString = generator.Generate(prompts, new SamplingOptions { Temperature = 0, MaxTokens = 6, StopStrings = [stop] }, Decode);
        Assert.Equal(FinishReason.StopString, byString[1].FinishReason);
        int at = Decode(free[1].Tokens).IndexOf(stop, StringComparison.Ordinal);
        Assert.Equal(free[1].Tokens[..(at + 1)], byString[1].Tokens);
        Assert.Throws<ArgumentException>(() => generator.Generate(prompts, new SamplingOptions { StopStrings = ["x"] }));
    }

    [Fact]
    public void Scorer_values_cover_every_position()
    {
        var config = TinyModels.Config();
        var value = TinyModels.Random(config, seed: 2).CreateValueModel(seed: 1);
        int[][] seqs = [[1, 2, 3], [4, 5, 6, 7, 8]];
        var values = Scorer.Values(value, seqs, maxBatchTokens: 5);
        Assert.Equal(3, values[0].Length);
        Assert.Equal(5, values[1].Length);
        var direct = new float[3];
        value.ComputeValues(seqs[0], 1, 3, direct);
        for (int i = 0; i < 3; i++) Assert.Equal(direct[i], values[0][i], 1e-5f);
    }

    [Fact]
    public void Reference_and_value_scored_side_by_side_equal_scoring_them_one_after_the_other()
    {
        // Large enough that the kernels split work over threads when run alone; side by side each runs on one thread.
        var config = LlamaConfig.Create(vocabSize: 300, hiddenSize: 64, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 160,
            maxPositions: 512, tieEmbeddings: true);
        var reference = LlamaModel.CreateRandom(config, seed: 3);
        var value = LlamaModel.CreateRandom(config, seed: 4).CreateValueModel(seed: 5);
        var random = new Random(6);
        var sequences = Enumerable.Range(0, 7)
            .Select(i => (IReadOnlyList<int>)Enumerable.Range(0, 40 + 37 * i).Select(_ => random.Next(300)).ToArray()).ToArray();
        var logProbs = Scorer.LogProbs(reference, sequences, maxBatchTokens: 512);
        var values = Scorer.Values(value, sequences, maxBatchTokens: 512);
        var (sideLogProbs, sideValues) = Scorer.LogProbsAndValues(reference, value, sequences, maxBatchTokens: 512);
        for (int i = 0; i < sequences.Length; i++)
        {
            Assert.Equal(logProbs[i], sideLogProbs[i]);
            Assert.Equal(values[i], sideValues[i]);
        }
    }

    [Fact]
    public void Bad_options_are_rejected_with_the_field_name()
    {
        Assert.Contains("top_p", Assert.Throws<ArgumentException>(() => new SamplingOptions { TopP = 0 }.Validate()).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => new SamplingOptions { Temperature = -1 }.Validate()).Message);
        Assert.Contains("max_tokens", Assert.Throws<ArgumentException>(() => new SamplingOptions { MaxTokens = 0 }.Validate()).Message);
        var model = LlamaModel.CreateRandom(TinyModels.Config(), 1);
        Assert.Throws<ArgumentException>(() => new Generator(model).Generate([Array.Empty<int>()], new SamplingOptions()));
    }
}

public class SeedTests
{
    [Fact]
    public void Sequence_seeds_are_fixed_numbers_not_per_process_hashes()
    {
        // Pinned values (SplitMix64 of (seed, index)): a per-process hash such as HashCode.Combine would differ from run
        // to run and make seeded generation irreproducible.
        Assert.Equal(-1096032325, Generator.SequenceSeed(42, 0));
        Assert.Equal(1616377404, Generator.SequenceSeed(42, 1));
        Assert.Equal(-1538687896, Generator.SequenceSeed(7, 3));
    }
}
