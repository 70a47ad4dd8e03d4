using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tests.Kernels;

namespace Rlef.Engine.Tests.Model;

// LlamaModel.UsePackedWeights: the same bits as packing every product, and a weight update is never missed.
[Collection(EngineThreadsCollection.Name)]
public class PackedWeightsTests
{
    private const int Batch = 4, SeqLen = 12;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packed_weights_give_the_same_logits_bit_for_bit(bool qwen3)
    {
        var model = TinyModels.Random(qwen3 ? TinyModels.Qwen3Config() : TinyModels.Config(qkvBias: true), seed: 3);
        var tokens = TinyModels.Tokens(new Random(1), Batch * SeqLen, model.Config.VocabSize);
        var expected = Logits(model, tokens);
        using (model.UsePackedWeights())
        {
            var first = Logits(model, tokens);
            var second = Logits(model, tokens); // from the copies packed by the first pass
            Assert.True(model.PackedWeightBytes > 0);
            Assert.Equal(expected, first);
            Assert.Equal(expected, second);
        }
        Assert.True(model.PackedWeightBytes > 0); // kept for the next scope
        model.ReleasePackedWeights();
        Assert.Equal(0, model.PackedWeightBytes);
    }

    [Fact]
    public void A_write_between_scopes_is_seen_without_marking_it()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 9);
        var tokens = TinyModels.Tokens(new Random(5), Batch * SeqLen, model.Config.VocabSize);
        List<float[]> before;
        using (model.UsePackedWeights()) before = [Logits(model, tokens)];
        // Data written directly, Version not bumped: the next scope repacks every weight anyway.
        foreach (var w in new[] { model.Layers[0].Q, model.Layers[1].Down, model.LmHead! })
            for (int i = 0; i < w.Length; i += 3) w.Data[i] *= -1.5f;
        var expected = Logits(model, tokens); // outside any scope: packs in every product
        using (model.UsePackedWeights())
        {
            var after = Logits(model, tokens);
            Assert.Equal(expected, after);
            Assert.NotEqual(before[0], after);
        }
        using (model.UsePackedWeights())
            Assert.Throws<InvalidOperationException>(model.ReleasePackedWeights);
    }

    [Fact]
    public void An_optimizer_update_inside_the_scope_repacks_the_weights()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 8);
        var tokens = TinyModels.Tokens(new Random(2), Batch * SeqLen, model.Config.VocabSize);
        var adam = new AdamW(model.Parameters);
        using var scope = model.UsePackedWeights();
        var before = Logits(model, tokens);
        var rng = new Random(4);
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Length; i++) p.Grad[i] = (float)(rng.NextDouble() - 0.5);
        int version = model.Layers[0].Q.Version;
        adam.Update(learningRate: 0.05);
        Assert.NotEqual(version, model.Layers[0].Q.Version);

        var after = Logits(model, tokens);
        var unpacked = model.Clone(); // a fresh model outside any scope packs every product
        Assert.Equal(Logits(unpacked, tokens), after);
        Assert.NotEqual(before, after);
    }

    [Fact]
    public void Generation_with_packed_weights_matches_the_full_recomputation()
    {
        // Generator decodes inside a scope; greedy tokens must equal the argmax of logits recomputed without one.
        var model = TinyModels.Random(TinyModels.Config(), seed: 6);
        var prompts = new[] { TinyModels.Tokens(new Random(3), 5, model.Config.VocabSize) };
        var generated = new Generator(model).Generate(prompts, new SamplingOptions { Temperature = 0, MaxTokens = 6 })[0].Tokens;
        var sequence = prompts[0].ToList();
        int v = model.Config.VocabSize;
        foreach (int token in generated)
        {
            var logits = new float[sequence.Count * v];
            model.ComputeLogits(sequence.ToArray(), 1, sequence.Count, logits);
            var last = logits.AsSpan((sequence.Count - 1) * v, v);
            Assert.Equal(last.IndexOf(last.ToArray().Max()), token);
            sequence.Add(token);
        }
        Assert.True(model.PackedWeightBytes > 0); // the generator decoded with packed weights
    }

    private static float[] Logits(LlamaModel model, int[] tokens)
    {
        var logits = new float[Batch * SeqLen * model.Config.VocabSize];
        model.ComputeLogits(tokens, Batch, SeqLen, logits);
        return logits;
    }
}
