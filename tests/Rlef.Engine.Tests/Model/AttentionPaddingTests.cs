using Rlef.Engine.Model;
using Xunit;

namespace Rlef.Engine.Tests.Model;

/// <summary>
/// ForwardLogProbs (and ForwardValues given `used`) let attention skip the query rows after each sequence's last scored (used) position (right padding of a
/// training batch). Log-probs and gradients must equal those of a pass that computes every row.
/// </summary>
public class AttentionPaddingTests
{
    [Fact]
    public void Skipping_rows_after_the_last_scored_position_changes_no_log_prob_or_gradient()
    {
        // Head dim 32: the tile kernels; one kv head for two query heads.
        var config = LlamaConfig.Create(vocabSize: 23, hiddenSize: 64, layers: 2, heads: 2, kvHeads: 1, intermediateSize: 48, maxPositions: 64);
        var model = TinyModels.Random(config, seed: 5);
        const int b = 3, t = 40;
        var rng = new Random(3);
        var tokens = TinyModels.Tokens(rng, b * t, config.VocabSize);
        var targets = TinyModels.Tokens(rng, b * t, config.VocabSize);
        int[] lengths = [t, 25, 31];
        var scored = new bool[b * t];
        var dLogp = new float[b * t];
        for (int s = 0; s < b; s++)
            for (int i = 5; i < lengths[s] - 1; i++) { scored[s * t + i] = true; dLogp[s * t + i] = (float)(rng.NextDouble() - 0.5); }

        var (logp, grads) = Pass(model, tokens, targets, scored, dLogp);
        // The same batch with the last column scored too (its gradient 0): no sequence has rows to skip.
        var all = (bool[])scored.Clone();
        for (int s = 0; s < b; s++) all[s * t + t - 1] = true;
        var (logpAll, gradsAll) = Pass(model, tokens, targets, all, dLogp);

        for (int i = 0; i < b * t; i++)
            if (scored[i]) Assert.Equal(logpAll[i], logp[i], 4);
        for (int p = 0; p < grads.Count; p++)
        {
            float scale = 1e-4f * (1 + gradsAll[p].Max(Math.Abs));
            for (int i = 0; i < grads[p].Length; i++)
                Assert.True(Math.Abs(grads[p][i] - gradsAll[p][i]) <= scale, $"{model.Parameters[p].Name}[{i}]: {grads[p][i]} vs {gradsAll[p][i]}");
        }
    }

    [Fact]
    public void The_value_model_skips_rows_after_the_last_used_value_without_changing_values_or_gradients()
    {
        var config = LlamaConfig.Create(vocabSize: 23, hiddenSize: 64, layers: 2, heads: 2, kvHeads: 1, intermediateSize: 48, maxPositions: 64);
        var model = TinyModels.Random(config, seed: 6, ModelHead.Value);
        const int b = 3, t = 40, n = b * t;
        var rng = new Random(4);
        var tokens = TinyModels.Tokens(rng, n, config.VocabSize);
        int[] lengths = [t, 22, 35];
        var used = new bool[n];
        var dValues = new float[n];
        for (int s = 0; s < b; s++)
            for (int i = 3; i < lengths[s]; i++) { used[s * t + i] = true; dValues[s * t + i] = (float)(rng.NextDouble() - 0.5); }

        List<float[]> Grads() => model.Parameters.Select(p => (float[])p.Grad.Clone()).ToList();
        var values = new float[n];
        model.ZeroGrad();
        model.ForwardValues(tokens, b, t, values, used);
        model.BackwardValues(dValues);
        var grads = Grads();
        var all = new float[n];
        model.ZeroGrad();
        model.ForwardValues(tokens, b, t, all);
        model.BackwardValues(dValues);
        var gradsAll = Grads();

        for (int i = 0; i < n; i++) Assert.Equal(used[i] ? all[i] : (i % t < lengths[i / t] ? all[i] : 0f), values[i], 4);
        for (int p = 0; p < grads.Count; p++)
        {
            float scale = 1e-4f * (1 + gradsAll[p].Max(Math.Abs));
            for (int i = 0; i < grads[p].Length; i++)
                Assert.True(Math.Abs(grads[p][i] - gradsAll[p][i]) <= scale, $"{model.Parameters[p].Name}[{i}]: {grads[p][i]} vs {gradsAll[p][i]}");
        }
        // A gradient on a skipped position is refused.
        model.ForwardValues(tokens, b, t, values, used);
        dValues[t + 30] = 1;
        Assert.Throws<ArgumentException>(() => model.BackwardValues(dValues));
    }

    private static (float[] LogProbs, List<float[]> Grads) Pass(LlamaModel model, int[] tokens, int[] targets, bool[] scored, float[] dLogp)
    {
        int n = tokens.Length, t = 40, b = n / t;
        var logp = new float[n];
        model.ZeroGrad();
        model.ForwardLogProbs(tokens, targets, b, t, logp, scored);
        model.BackwardLogProbs(dLogp);
        return (logp, model.Parameters.Select(p => (float[])p.Grad.Clone()).ToList());
    }

    [Fact]
    public void Backward_accepts_huge_gradients_on_scored_positions_and_names_an_unscored_one()
    {
        var config = LlamaConfig.Create(vocabSize: 23, hiddenSize: 32, layers: 1, heads: 2, kvHeads: 1, intermediateSize: 32, maxPositions: 16);
        var model = TinyModels.Random(config, seed: 2);
        const int b = 2, t = 8;
        int[] tokens = Enumerable.Range(0, b * t).Select(i => i % 23).ToArray();
        int[] targets = tokens.Select(x => (x + 1) % 23).ToArray();
        var scored = new bool[b * t];
        scored[3] = scored[4] = scored[12] = true;
        var logp = new float[b * t];
        model.ForwardLogProbs(tokens, targets, b, t, logp, scored);
        // A diverged PPO ratio gives huge gradients: the check must not take rounding for an unscored gradient (a check
        // by sums, 2^53 + 3 − 2^53 − 3 in doubles, leaves 1 and threw here).
        var dLogp = new float[b * t];
        dLogp[3] = 9007199254740992f; dLogp[4] = -3f; dLogp[12] = 1e-30f;
        model.BackwardLogProbs(dLogp);

        model.ForwardLogProbs(tokens, targets, b, t, logp, scored);
        dLogp[5] = 0.5f;
        var e = Assert.Throws<ArgumentException>(() => model.BackwardLogProbs(dLogp));
        Assert.Contains("position 5", e.Message);
    }
}
