using Rlef.Engine.Layers;

namespace Rlef.Engine.Tests.Layers;

// Each layer's backward against central differences of its forward, on small random shapes. The loss is a random
// linear functional Σ r·y of the output, so ∂L/∂y = r is what the backward receives.
public class LayerGradientTests
{
    private readonly Random _rng = new(42);

    [Fact]
    public void RmsNorm_backward_matches_finite_differences()
    {
        const int n = 3, c = 37; // 37: exercises the vector tail
        var x = GradCheck.RandomArray(_rng, n * c, 2f);
        var w = GradCheck.RandomArray(_rng, c);
        var r = GradCheck.RandomArray(_rng, n * c);
        var y = new float[n * c]; var rstd = new float[n];
        double Loss() { RmsNorm.Forward(y, rstd, x, w, n, c, 1e-5f); return GradCheck.Dot(r, y); }
        Loss();
        var dx = new float[n * c]; var dw = new float[c];
        RmsNorm.Backward(dx, dw, r, x, w, rstd, n, c, new float[n * c]);
        GradCheck.Check("dx", x, dx, Loss);
        GradCheck.Check("dw", w, dw, Loss);
    }

    [Fact]
    public void RmsNorm_backward_accumulates_into_the_input_gradient()
    {
        const int n = 2, c = 16;
        var x = GradCheck.RandomArray(_rng, n * c); var w = GradCheck.RandomArray(_rng, c); var r = GradCheck.RandomArray(_rng, n * c);
        var y = new float[n * c]; var rstd = new float[n];
        RmsNorm.Forward(y, rstd, x, w, n, c, 1e-5f);
        var fresh = new float[n * c];
        RmsNorm.Backward(fresh, null, r, x, w, rstd, n, c, new float[n * c]);
        var acc = Enumerable.Repeat(1f, n * c).ToArray();
        RmsNorm.Backward(acc, null, r, x, w, rstd, n, c, new float[n * c]);
        for (int i = 0; i < n * c; i++) Assert.Equal(fresh[i] + 1f, acc[i], 1e-5f);
    }

    [Fact]
    public void Rope_backward_matches_finite_differences_and_preserves_norm()
    {
        const int n = 4, heads = 3, d = 8;
        var rope = new Rope(d, 10000, null);
        var x = GradCheck.RandomArray(_rng, n * heads * d);
        var r = GradCheck.RandomArray(_rng, n * heads * d);
        int[] positions = [0, 1, 7, 300];
        double Loss() { var y = (float[])x.Clone(); rope.Apply(y, positions, n, heads); return GradCheck.Dot(r, y); }
        var dx = (float[])r.Clone();
        rope.Apply(dx, positions, n, heads, inverse: true);
        GradCheck.Check("dx", x, dx, Loss);

        var rotated = (float[])x.Clone();
        rope.Apply(rotated, positions, n, heads);
        Assert.Equal(x.Sum(v => (double)v * v), rotated.Sum(v => (double)v * v), 3);
        Assert.Equal(x.AsSpan(0, heads * d).ToArray(), rotated.AsSpan(0, heads * d).ToArray()); // position 0: identity
    }

    [Fact]
    public void Rope_uses_the_rotate_half_pairing()
    {
        // Head dim 4, position 1: pairs (0,2) and (1,3) rotate by 1 and 1/100 radians (theta 10000, i = 0, 1).
        var rope = new Rope(4, 10000, null);
        float[] x = [1, 0, 0, 0];
        rope.Apply(x, [1], 1, 1);
        Assert.Equal(MathF.Cos(1), x[0], 5);
        Assert.Equal(0, x[1], 5);
        Assert.Equal(MathF.Sin(1), x[2], 5);
        Assert.Equal(0, x[3], 5);
    }

    [Fact]
    public void Llama3_rope_scaling_keeps_high_and_slows_low_frequencies()
    {
        var plain = new Rope(128, 500000, null);
        var scaled = new Rope(128, 500000, new RopeScaling("llama3", 8, 1, 4, 8192));
        float[] a = new float[128], b = new float[128];
        a[0] = b[0] = 1; // lowest index: highest frequency (wavelength 2π): unchanged
        a[63] = b[63] = 1; // highest index: wavelength ≫ 8192: frequency divided by 8
        plain.Apply(a, [1000], 1, 1);
        scaled.Apply(b, [1000], 1, 1);
        Assert.Equal(a[0], b[0], 5);
        Assert.Equal(a[64], b[64], 5);
        double invFreq63 = Math.Pow(500000, -126.0 / 128) / 8;
        Assert.Equal((float)Math.Cos(1000 * invFreq63), b[63], 4);
        Assert.Throws<NotSupportedException>(() => new Rope(64, 10000, new RopeScaling("yarn", 4)));
    }

    [Fact]
    public void Linear_with_bias_backward_matches_finite_differences()
    {
        const int n = 5, cin = 7, cout = 6;
        var x = GradCheck.RandomArray(_rng, n * cin); var w = GradCheck.RandomArray(_rng, cout * cin); var b = GradCheck.RandomArray(_rng, cout);
        var r = GradCheck.RandomArray(_rng, n * cout);
        var y = new float[n * cout];
        double Loss() { Linear.Forward(y, x, w, b, n, cin, cout); return GradCheck.Dot(r, y); }
        Loss();
        var dx = new float[n * cin]; var dw = new float[cout * cin]; var db = new float[cout];
        Linear.Backward(dx, false, dw, db, r, x, w, n, cin, cout);
        GradCheck.Check("dx", x, dx, Loss);
        GradCheck.Check("dw", w, dw, Loss);
        GradCheck.Check("db", b, db, Loss);
    }

    [Fact]
    public void SwiGlu_backward_matches_finite_differences()
    {
        const int count = 53;
        var g = GradCheck.RandomArray(_rng, count, 4f); var u = GradCheck.RandomArray(_rng, count, 2f); var r = GradCheck.RandomArray(_rng, count);
        var h = new float[count];
        double Loss() { SwiGlu.Forward(h, g, u, count); return GradCheck.Dot(r, h); }
        Loss();
        Assert.Equal(g[3] / (1 + MathF.Exp(-g[3])) * u[3], h[3], 5);
        var dg = new float[count]; var du = new float[count];
        SwiGlu.Backward(dg, du, r, g, u, count);
        GradCheck.Check("dgate", g, dg, Loss, step: 1e-3f);
        GradCheck.Check("dup", u, du, Loss, step: 1e-3f);
    }

    [Fact]
    public void Embedding_backward_scatters_and_accumulates_repeated_tokens()
    {
        const int v = 5, c = 3;
        var table = GradCheck.RandomArray(_rng, v * c);
        int[] tokens = [2, 4, 2];
        var y = new float[tokens.Length * c];
        Embedding.Forward(y, tokens, table, c);
        Assert.Equal(table.AsSpan(4 * c, c).ToArray(), y.AsSpan(c, c).ToArray());
        var dy = GradCheck.RandomArray(_rng, tokens.Length * c);
        var dTable = new float[v * c];
        Embedding.Backward(dTable, dy, tokens, c);
        Assert.Equal(dy[0] + dy[6], dTable[2 * c], 6);
        Assert.Equal(0f, dTable[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(y, [5, 0, 0], table, c));
    }

    [Theory]
    [InlineData(4, 4)]  // multi-head
    [InlineData(4, 2)]  // grouped-query
    [InlineData(4, 1)]  // multi-query
    public void Attention_backward_matches_finite_differences(int heads, int kvHeads)
    {
        const int b = 2, t = 5, d = 8;
        var q = GradCheck.RandomArray(_rng, b * t * heads * d, 1.5f);
        var k = GradCheck.RandomArray(_rng, b * t * kvHeads * d, 1.5f);
        var v = GradCheck.RandomArray(_rng, b * t * kvHeads * d);
        var r = GradCheck.RandomArray(_rng, b * t * heads * d);
        int[] start = [0, 2]; // the second sequence has two columns of left padding
        var y = new float[b * t * heads * d]; var lse = new float[b * heads * t]; var scratch = new float[Attention.ScratchSize(b, t, t, heads, kvHeads, d)];
        double Loss() { Attention.Forward(y, lse, q, k, v, b, t, 0, t, heads, kvHeads, d, start, scratch); return GradCheck.Dot(r, y); }
        Loss();
        var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
        Attention.Backward(dq, dk, dv, r, q, k, v, y, lse, b, t, heads, kvHeads, d, start, scratch);
        GradCheck.Check("dq", q, dq, Loss, samples: 60);
        GradCheck.Check("dk", k, dk, Loss, samples: 60);
        GradCheck.Check("dv", v, dv, Loss, samples: 60);
    }

    [Fact]
    public void Attention_is_causal_and_ignores_left_padding()
    {
        const int b = 1, t = 4, h = 2, d = 4;
        var q = GradCheck.RandomArray(_rng, t * h * d); var k = GradCheck.RandomArray(_rng, t * h * d); var v = GradCheck.RandomArray(_rng, t * h * d);
        var y1 = new float[t * h * d]; var lse = new float[h * t]; var scratch = new float[Attention.ScratchSize(b, t, t, h, h, d)];
        Attention.Forward(y1, lse, q, k, v, b, t, 0, t, h, h, d, [1], scratch);
        // Changing the last key/value and the padded first column changes nothing before the last row.
        for (int i = 0; i < h * d; i++) { k[(t - 1) * h * d + i] += 5; v[(t - 1) * h * d + i] -= 3; k[i] = 9; v[i] = 9; }
        var y2 = new float[t * h * d];
        Attention.Forward(y2, lse, q, k, v, b, t, 0, t, h, h, d, [1], scratch);
        for (int i = h * d; i < (t - 1) * h * d; i++) Assert.Equal(y1[i], y2[i], 6);
        Assert.All(y2.AsSpan(0, h * d).ToArray(), x => Assert.Equal(0f, x)); // the padding query row attends to nothing
        // Row 1 (first real token) attends to itself only: its output is its own value row.
        for (int i = 0; i < h * d; i++) Assert.Equal(v[h * d + i], y2[h * d + i], 5);
    }

    [Fact]
    public void TokenLogProbs_forward_and_backward()
    {
        const int n = 4, vocab = 29;
        var logits = GradCheck.RandomArray(_rng, n * vocab, 3f);
        int[] targets = [0, 5, 28, 5];
        float[] weights = [0.5f, -1f, 0f, 2f]; // a zero weight: that row gets no gradient
        var lse = new float[n]; var logp = new float[n];
        double Loss()
        {
            var copy = (float[])logits.Clone();
            TokenLogProbs.Forward(copy, targets, logp, lse, n, vocab);
            return GradCheck.Dot(weights, logp);
        }
        Loss();
        double expected = logits[vocab + 5] - Math.Log(Enumerable.Range(0, vocab).Sum(j => Math.Exp(logits[vocab + j])));
        Assert.Equal(expected, logp[1], 4);
        var dlogits = (float[])logits.Clone();
        TokenLogProbs.Backward(dlogits, lse, weights, targets, n, vocab);
        Assert.All(dlogits.AsSpan(2 * vocab, vocab).ToArray(), x => Assert.Equal(0f, x));
        GradCheck.Check("dlogits", logits, dlogits, Loss, samples: 80);
    }
}

public class EntropyTests
{
    [Fact]
    public void Entropy_of_each_row_matches_the_definition()
    {
        var rng = new Random(8);
        const int n = 3, vocab = 41;
        var logits = GradCheck.RandomArray(rng, n * vocab, 4f);
        logits[2 * vocab + 7] = 60; // a near-one-hot row: entropy ≈ 0
        var lse = new float[n]; var logp = new float[n]; var entropy = new float[n];
        TokenLogProbs.Forward(logits, new int[n], logp, lse, n, vocab);
        TokenLogProbs.Entropy(logits, lse, entropy, n, vocab);
        for (int r = 0; r < n; r++)
        {
            double z = Enumerable.Range(0, vocab).Sum(j => Math.Exp(logits[r * vocab + j]));
            double h = -Enumerable.Range(0, vocab).Sum(j => { double p = Math.Exp(logits[r * vocab + j]) / z; return p > 0 ? p * Math.Log(p) : 0; });
            Assert.Equal(h, entropy[r], 1e-4);
        }
        Assert.InRange(entropy[2], 0, 1e-4);
    }
}
