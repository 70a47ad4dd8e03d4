using Rlef.Engine.Model;
using Rlef.Engine.Tests.Layers;

namespace Rlef.Engine.Tests.Model;

// The whole model's backward against central differences, for every parameter tensor.
public class ModelGradientTests
{
    [Theory]
    [InlineData(false, false, 2)] // Llama, GQA
    [InlineData(true, false, 2)]  // Qwen2: q/k/v bias
    [InlineData(false, true, 1)]  // SmolLM-like: tied embeddings, multi-query
    [InlineData(false, true, 2, true)] // Qwen3: per-head q/k norm, head_dim ≠ hidden / heads
    public void Language_model_gradients_match_finite_differences(bool qkvBias, bool tied, int kvHeads, bool qwen3 = false)
    {
        var config = qwen3 ? TinyModels.Qwen3Config() : TinyModels.Config(qkvBias, tied, kvHeads);
        var model = TinyModels.Random(config, seed: 7);
        var rng = new Random(3);
        const int b = 2, t = 5;
        var tokens = TinyModels.Tokens(rng, b * t, config.VocabSize);
        var targets = TinyModels.Tokens(rng, b * t, config.VocabSize);
        // Per-token weights as PPO uses them: some zero (masked prompt tokens), some negative.
        var weights = GradCheck.RandomArray(rng, b * t);
        weights[0] = weights[6] = 0;

        var logp = new float[b * t];
        model.ZeroGrad();
        model.ForwardLogProbs(tokens, targets, b, t, logp);
        model.BackwardLogProbs(weights);

        var scored = new float[b * t];
        double Loss() { model.ScoreLogProbs(tokens, targets, b, t, scored); return GradCheck.Dot(weights, scored); }
        Loss();
        for (int i = 0; i < logp.Length; i++) Assert.Equal(logp[i], scored[i], 1e-5f); // training and inference paths agree

        foreach (var p in model.Parameters)
            GradCheck.Check(p.Name, p.Data, p.Grad, Loss, samples: 6, step: 3e-3f, relTol: 5e-2, absTol: 3e-3);
        if (tied) Assert.Null(model.Parameters.FirstOrDefault(p => p.Name == "lm_head.weight"));
    }

    [Fact]
    public void Value_model_gradients_match_finite_differences()
    {
        var config = TinyModels.Config(qkvBias: true);
        var model = TinyModels.Random(config, seed: 11, ModelHead.Value);
        var rng = new Random(5);
        const int b = 2, t = 4;
        var tokens = TinyModels.Tokens(rng, b * t, config.VocabSize);
        var dv = GradCheck.RandomArray(rng, b * t);
        var values = new float[b * t];
        model.ZeroGrad();
        model.ForwardValues(tokens, b, t, values);
        model.BackwardValues(dv);
        var scored = new float[b * t];
        double Loss() { model.ComputeValues(tokens, b, t, scored); return GradCheck.Dot(dv, scored); }
        Loss();
        for (int i = 0; i < values.Length; i++) Assert.Equal(values[i], scored[i], 1e-5f);
        foreach (var p in model.Parameters)
            GradCheck.Check(p.Name, p.Data, p.Grad, Loss, samples: 6, step: 3e-3f, relTol: 5e-2, absTol: 3e-3);
    }

    [Fact]
    public void Gradients_accumulate_across_backward_calls_until_zeroed()
    {
        var config = TinyModels.Config();
        var model = TinyModels.Random(config, seed: 2);
        var rng = new Random(1);
        var tokens = TinyModels.Tokens(rng, 6, config.VocabSize);
        var weights = GradCheck.RandomArray(rng, 6);
        model.ZeroGrad();
        model.TrainCrossEntropy(tokens, tokens, weights, 2, 3);
        var once = model.Parameters.Select(p => (float[])p.Grad.Clone()).ToArray();
        model.TrainCrossEntropy(tokens, tokens, weights, 2, 3);
        for (int i = 0; i < once.Length; i++)
            for (int j = 0; j < once[i].Length; j += 7)
                Assert.Equal(2 * once[i][j], model.Parameters[i].Grad[j], 1e-4f + 1e-4f * Math.Abs(once[i][j]));
        Assert.Throws<InvalidOperationException>(() => model.BackwardLogProbs(weights)); // one backward per forward
    }
}

public class LogitsChunkingAndScoringMaskTests
{
    [Theory]
    [InlineData(false)] // logits of all rows in one buffer
    [InlineData(true)]  // logits in chunks of 3 rows, recomputed in the backward
    public void Scoring_only_some_positions_gives_the_same_log_probs_and_gradients(bool chunked)
    {
        var config = TinyModels.Config();
        var full = TinyModels.Random(config, seed: 21);
        var masked = full.Clone();
        if (chunked) masked.MaxLogitsFloats = 3 * config.VocabSize;
        var rng = new Random(4);
        const int b = 2, t = 6;
        var tokens = TinyModels.Tokens(rng, b * t, config.VocabSize);
        var targets = TinyModels.Tokens(rng, b * t, config.VocabSize);
        var weights = GradCheck.RandomArray(rng, b * t);
        var scored = new bool[b * t];
        for (int i = 0; i < scored.Length; i++) scored[i] = i % t >= 3; // "reply" tokens: the last three of each row
        for (int i = 0; i < weights.Length; i++) if (!scored[i]) weights[i] = 0;

        var a = new float[b * t]; var m = new float[b * t];
        full.ForwardLogProbs(tokens, targets, b, t, a);
        full.BackwardLogProbs(weights);
        masked.ForwardLogProbs(tokens, targets, b, t, m, scored);
        masked.BackwardLogProbs(weights);
        for (int i = 0; i < a.Length; i++) Assert.Equal(scored[i] ? a[i] : 0f, m[i], 1e-5f);
        for (int p = 0; p < full.Parameters.Count; p++)
            for (int j = 0; j < full.Parameters[p].Length; j++)
                Assert.Equal(full.Parameters[p].Grad[j], masked.Parameters[p].Grad[j], 1e-4f);

        var s = new float[b * t];
        var entropyMasked = new float[b * t]; var entropyFull = new float[b * t];
        masked.ScoreLogProbs(tokens, targets, b, t, s, scored, entropyMasked);
        full.ScoreLogProbs(tokens, targets, b, t, new float[b * t], default, entropyFull);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(m[i], s[i], 1e-5f);
            Assert.Equal(scored[i] ? entropyFull[i] : 0f, entropyMasked[i], 1e-5f);
            Assert.InRange(entropyFull[i], 0f, MathF.Log(config.VocabSize) + 1e-4f);
        }

        masked.ForwardLogProbs(tokens, targets, b, t, m, scored);
        var bad = (float[])weights.Clone();
        bad[0] = 1; // position 0 was not scored
        Assert.Throws<ArgumentException>(() => masked.BackwardLogProbs(bad));
    }
}
