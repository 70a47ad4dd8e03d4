using Rlef.Engine.Model;
using Rlef.Engine.Optim;

namespace Rlef.Engine.Tests.Model;

public class ModelBehaviourTests
{
    [Theory]
    [InlineData(0, false)] // prefill in one call
    [InlineData(2, false)] // prefill in chunks of two columns
    [InlineData(0, true)]  // Qwen3 (q/k norm)
    public void Kv_cache_decoding_equals_full_recomputation(int prefillChunk, bool qwen3)
    {
        var config = qwen3 ? TinyModels.Qwen3Config() : TinyModels.Config(qkvBias: true);
        var model = TinyModels.Random(config, seed: 5);
        var rng = new Random(9);
        int v = config.VocabSize;
        // Two prompts of different lengths, left-padded into one batch, then four decoding steps with given tokens.
        int[][] prompts = [TinyModels.Tokens(rng, 5, v), TinyModels.Tokens(rng, 2, v)];
        int[][] fed = [TinyModels.Tokens(rng, 4, v), TinyModels.Tokens(rng, 4, v)];
        const int width = 5, steps = 4;
        var cache = model.CreateKvCache(2, width + steps, prefillChunk);
        cache.Reset([0, 3]);
        var grid = new int[2 * width];
        prompts[0].CopyTo(grid, 0);
        grid[width] = grid[width + 1] = grid[width + 2] = 17; // padding: any token, masked out
        prompts[1].CopyTo(grid, width + 3);

        var stepLogits = new List<float[]> { model.Decode(cache, grid, width).ToArray() };
        for (int s = 0; s < steps - 1; s++) stepLogits.Add(model.Decode(cache, [fed[0][s], fed[1][s]], 1).ToArray());

        for (int b = 0; b < 2; b++)
        {
            var full = prompts[b].Concat(fed[b]).ToArray();
            var logits = new float[full.Length * v];
            model.ComputeLogits(full, 1, full.Length, logits);
            for (int s = 0; s < steps; s++)
            {
                int position = prompts[b].Length - 1 + s;
                for (int j = 0; j < v; j++)
                    Assert.Equal(logits[position * v + j], stepLogits[s][b * v + j], 1e-4f);
            }
        }
        Assert.Throws<InvalidOperationException>(() => model.Decode(cache, [0, 0, 0, 0], 2)); // capacity 9, 8 used
    }

    [Fact]
    public void Clone_is_independent_and_freeze_refuses_backward()
    {
        var config = TinyModels.Config();
        var model = TinyModels.Random(config, seed: 1);
        var copy = model.Clone();
        var tokens = new[] { 1, 2, 3, 4 };
        var a = new float[4]; var b = new float[4];
        model.ScoreLogProbs(tokens, tokens, 1, 4, a);
        copy.ScoreLogProbs(tokens, tokens, 1, 4, b);
        Assert.Equal(a, b);
        copy.Layers[0].Q.Data[0] += 1;
        Assert.NotEqual(model.Layers[0].Q.Data[0], copy.Layers[0].Q.Data[0]);

        copy.Freeze();
        Assert.True(copy.IsFrozen);
        Assert.All(copy.Parameters, p => Assert.True(p.Frozen));
        copy.ForwardLogProbs(tokens, tokens, 1, 4, b); // a frozen model still scores
        Assert.Throws<InvalidOperationException>(() => copy.BackwardLogProbs(new float[4]));
    }

    [Fact]
    public void Value_model_shares_the_trunk_and_has_a_scalar_head()
    {
        var config = TinyModels.Config(tied: true);
        var policy = TinyModels.Random(config, seed: 4);
        var value = policy.CreateValueModel(seed: 8);
        Assert.Equal(ModelHead.Value, value.Head);
        Assert.Null(value.LmHead);
        Assert.Equal(new[] { 1, config.HiddenSize }, value.ValueWeight!.Shape);
        Assert.Contains(value.ValueWeight.Data, x => x != 0);
        Assert.Equal(policy.Embed.Data, value.Embed.Data);
        Assert.Equal(policy.Layers[1].Down.Data, value.Layers[1].Down.Data);
        Assert.DoesNotContain(value.Parameters, p => p.Name.StartsWith("lm_head", StringComparison.Ordinal));
        var values = new float[3];
        value.ComputeValues([1, 2, 3], 1, 3, values);
        Assert.All(values, x => Assert.True(float.IsFinite(x)));
        Assert.Throws<InvalidOperationException>(() => value.ScoreLogProbs([1], [1], 1, 1, new float[1]));
    }

    [Fact]
    public void Parameters_are_named_as_in_hugging_face_checkpoints()
    {
        var model = LlamaModel.CreateRandom(TinyModels.Config(qkvBias: true), seed: 1);
        var names = model.Parameters.Select(p => p.Name).ToHashSet();
        foreach (var n in new[] { "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.1.self_attn.q_proj.weight",
                     "model.layers.1.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias", "model.layers.0.self_attn.o_proj.weight",
                     "model.layers.0.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
                     "model.layers.0.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight" })
            Assert.Contains(n, names);
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names); // Qwen2: no bias on o_proj
        Assert.Equal(new[] { 2 * 6, 24 }, model.Layers[0].K.Shape);       // [kv_heads·head_dim, hidden]
        Assert.Equal(names.Count, model.Parameters.Count);
    }

    [Fact]
    public void Random_init_is_seeded()
    {
        var config = TinyModels.Config();
        var a = LlamaModel.CreateRandom(config, seed: 3);
        var b = LlamaModel.CreateRandom(config, seed: 3);
        var c = LlamaModel.CreateRandom(config, seed: 4);
        Assert.Equal(a.Layers[0].Up.Data, b.Layers[0].Up.Data);
        Assert.NotEqual(a.Layers[0].Up.Data, c.Layers[0].Up.Data);
        Assert.All(a.FinalNorm.Data, x => Assert.Equal(1f, x));
        double std = Math.Sqrt(a.Embed.Data.Average(x => (double)x * x));
        Assert.InRange(std, 0.017, 0.023);
    }

    [Fact]
    public void A_tiny_model_overfits_a_small_corpus()
    {
        // Character-level model on one repeated sentence, trained with the engine's AdamW: the loss must fall from
        // ln(V) ≈ 3.3 to near zero.
        const string text = "the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs. ";
        var alphabet = text.Distinct().OrderBy(ch => ch).ToArray();
        var ids = text.Select(ch => Array.IndexOf(alphabet, ch)).ToArray();
        var config = LlamaConfig.Create(vocabSize: alphabet.Length, hiddenSize: 48, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 96);
        var model = LlamaModel.CreateRandom(config, seed: 1);
        const int b = 4, t = 24;
        var rng = new Random(0);
        var tokens = new int[b * t]; var targets = new int[b * t];
        var weights = Enumerable.Repeat(1f / (b * t), b * t).ToArray();
        var adamW = new AdamW(model.Parameters, new AdamWOptions { WeightDecay = 0.01 });
        float first = 0, last = 0;
        for (int step = 0; step < 120; step++)
        {
            for (int r = 0; r < b; r++)
            {
                int offset = rng.Next(ids.Length);
                for (int i = 0; i < t; i++)
                {
                    tokens[r * t + i] = ids[(offset + i) % ids.Length];
                    targets[r * t + i] = ids[(offset + i + 1) % ids.Length];
                }
            }
            model.ZeroGrad();
            last = model.TrainCrossEntropy(tokens, targets, weights, b, t);
            if (step == 0) first = last;
            adamW.Update(learningRate: 1e-2);
        }
        Assert.InRange(first, 2.8f, 3.8f);
        Assert.True(last < 0.3f, $"loss after 120 steps: {last} (from {first})");
    }
}
