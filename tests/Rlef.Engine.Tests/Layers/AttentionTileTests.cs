using Rlef.Engine.Layers;
using Xunit;

namespace Rlef.Engine.Tests.Layers;

/// <summary>
/// The tile kernels of <see cref="Attention"/> against a naive double-precision reference (and the row kernels they
/// replace), on shapes that cover head dims 16/32/48/64 and the fallback dims 8/24, GQA groups 1/3/4, left padding,
/// a KV cache with past &gt; 0, single-query decoding, and tiles that do not divide the sequence.
/// </summary>
public class AttentionTileTests
{
    // b, tq, past, heads, kvHeads, d, left padding
    public static TheoryData<int, int, int, int, int, int, bool> ForwardShapes => new()
    {
        { 3, 37, 0, 6, 2, 32, true },
        { 2, 50, 0, 4, 4, 64, true },
        { 2, 29, 0, 6, 2, 48, true },
        { 2, 70, 0, 8, 2, 32, false },
        { 2, 13, 0, 3, 1, 16, true },
        { 2, 9, 20, 6, 2, 32, true },   // prefill after a cached prefix
        { 3, 1, 30, 6, 2, 32, true },   // one decoding step
        { 2, 7, 5, 4, 1, 64, true },
        { 2, 12, 0, 4, 2, 8, true },    // row-kernel fallback
        { 2, 12, 3, 6, 2, 24, true },
    };

    [Theory]
    [MemberData(nameof(ForwardShapes))]
    public void Forward_matches_the_naive_reference(int b, int tq, int past, int heads, int kvHeads, int d, bool padded)
    {
        var rng = new Random(b * 1000 + tq * 10 + d);
        int capacity = past + tq + 3, tk = past + tq;
        var q = Random(rng, b * tq * heads * d, 1.5f);
        var k = Random(rng, b * capacity * kvHeads * d, 1.5f);
        var v = Random(rng, b * capacity * kvHeads * d, 1f);
        int[]? start = padded ? Enumerable.Range(0, b).Select(i => i == 0 ? 0 : rng.Next(Math.Max(1, tk - 2))).ToArray() : null;
        if (padded && b > 1 && past + 1 < tk) start![1] = past + 1 + rng.Next(tk - past - 1); // some new queries are padding

        var output = new float[b * tq * heads * d];
        var lse = new float[b * heads * tq];
        var scratch = new float[Attention.ScratchSize(b, tq, capacity, heads, kvHeads, d)];
        Attention.Forward(output, lse, q, k, v, b, tq, past, capacity, heads, kvHeads, d, start, scratch);
        var (refOut, refLse) = NaiveForward(q, k, v, b, tq, past, capacity, heads, kvHeads, d, start);
        AssertClose(refOut, output, "output");
        AssertClose(refLse, lse, "lse");

        var rowsOut = new float[output.Length]; var rowsLse = new float[lse.Length];
        Attention.ForwardRows(rowsOut, rowsLse, q, k, v, b, tq, past, capacity, heads, kvHeads, d, start, scratch);
        AssertClose(rowsOut, output, "output vs row kernel");
        AssertClose(rowsLse, lse, "lse vs row kernel");

        // Both vector widths of the tiles (the 512-bit one only where the CPU has AVX-512).
        if (d % 16 != 0 || tq < 6) return;
        foreach (bool wide in Widths)
        {
            var tileOut = new float[output.Length]; var tileLse = new float[lse.Length];
            Attention.ForwardTiles(tileOut, tileLse, q, k, v, b, tq, past, capacity, heads, kvHeads, d, start, scratch, null, wide);
            AssertClose(refOut, tileOut, $"output, {(wide ? 512 : 256)}-bit tiles");
            AssertClose(refLse, tileLse, $"lse, {(wide ? 512 : 256)}-bit tiles");
        }
    }

    static bool[] Widths => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? [false, true] : [false];

    // b, t, heads, kvHeads, d, left padding
    public static TheoryData<int, int, int, int, int, bool> BackwardShapes => new()
    {
        { 2, 37, 6, 2, 32, true },
        { 2, 130, 6, 2, 32, true },  // several key and query tiles
        { 1, 100, 4, 4, 64, false },
        { 2, 53, 6, 2, 48, true },
        { 2, 70, 8, 2, 32, false },
        { 2, 20, 3, 1, 16, true },
        { 2, 12, 4, 2, 8, true },    // row-kernel fallback
        { 2, 4, 6, 2, 32, true },    // shorter than a tile: a row-kernel forward, a tile backward
    };

    [Theory]
    [MemberData(nameof(BackwardShapes))]
    public void Backward_matches_the_naive_reference(int b, int t, int heads, int kvHeads, int d, bool padded)
    {
        var rng = new Random(b * 1000 + t * 10 + d);
        var q = Random(rng, b * t * heads * d, 1.5f);
        var k = Random(rng, b * t * kvHeads * d, 1.5f);
        var v = Random(rng, b * t * kvHeads * d, 1f);
        var dOut = Random(rng, b * t * heads * d, 1f);
        int[]? start = padded ? Enumerable.Range(0, b).Select(i => i * (t / 3)).ToArray() : null;
        var output = new float[q.Length]; var lse = new float[b * heads * t];
        var scratch = new float[Attention.ScratchSize(b, t, t, heads, kvHeads, d)];
        Attention.Forward(output, lse, q, k, v, b, t, 0, t, heads, kvHeads, d, start, scratch);
        // Stale values in the gradients and scratch must not leak into the result.
        var dq = Random(rng, q.Length, 9f); var dk = Random(rng, k.Length, 9f); var dv = Random(rng, v.Length, 9f);
        Array.Fill(scratch, float.NaN);
        Attention.Backward(dq, dk, dv, dOut, q, k, v, output, lse, b, t, heads, kvHeads, d, start, scratch);
        var (rq, rk, rv) = NaiveBackward(dOut, q, k, v, b, t, heads, kvHeads, d, start);
        AssertClose(rq, dq, "dq");
        AssertClose(rk, dk, "dk");
        AssertClose(rv, dv, "dv");

        var dq2 = new float[dq.Length]; var dk2 = new float[dk.Length]; var dv2 = new float[dv.Length];
        Attention.BackwardRows(dq2, dk2, dv2, dOut, q, k, v, output, lse, b, t, heads, kvHeads, d, start, new float[scratch.Length]);
        AssertClose(dq2, dq, "dq vs row kernel");
        AssertClose(dk2, dk, "dk vs row kernel");
        AssertClose(dv2, dv, "dv vs row kernel");

        if (d % 16 != 0) return;
        foreach (bool wide in Widths)
        {
            var dq3 = Random(rng, q.Length, 9f); var dk3 = Random(rng, k.Length, 9f); var dv3 = Random(rng, v.Length, 9f);
            Array.Fill(scratch, float.NaN);
            Attention.BackwardTiles(dq3, dk3, dv3, dOut, q, k, v, output, lse, b, t, heads, kvHeads, d, start, scratch, null, wide);
            AssertClose(rq, dq3, $"dq, {(wide ? 512 : 256)}-bit tiles");
            AssertClose(rk, dk3, $"dk, {(wide ? 512 : 256)}-bit tiles");
            AssertClose(rv, dv3, $"dv, {(wide ? 512 : 256)}-bit tiles");
        }
    }

    // b, tq, past, heads, kvHeads, d
    [Theory]
    [InlineData(3, 40, 0, 6, 2, 32)]
    [InlineData(2, 30, 0, 4, 4, 64)]
    [InlineData(2, 9, 20, 6, 2, 32)]
    [InlineData(3, 1, 30, 6, 2, 32)]
    [InlineData(2, 12, 0, 4, 2, 8)]
    public void Forward_skips_right_padding_after_end(int b, int tq, int past, int heads, int kvHeads, int d)
    {
        var rng = new Random(7 + tq + d);
        int capacity = past + tq, tk = past + tq;
        var q = Random(rng, b * tq * heads * d, 1.5f);
        var k = Random(rng, b * capacity * kvHeads * d, 1.5f);
        var v = Random(rng, b * capacity * kvHeads * d, 1f);
        int[] start = Enumerable.Range(0, b).Select(i => i == 1 ? 2 : 0).ToArray();
        int[] end = Enumerable.Range(0, b).Select(i => i == 0 ? tk : Math.Max(start[i], tk - 1 - rng.Next(tq))).ToArray();
        var output = Random(rng, b * tq * heads * d, 5f); var lse = new float[b * heads * tq];
        var scratch = new float[Attention.ScratchSize(b, tq, capacity, heads, kvHeads, d)];
        Attention.Forward(output, lse, q, k, v, b, tq, past, capacity, heads, kvHeads, d, start, scratch, end);
        var (refOut, refLse) = NaiveForward(q, k, v, b, tq, past, capacity, heads, kvHeads, d, start, end);
        AssertClose(refOut, output, "output");
        AssertClose(refLse, lse, "lse");
    }

    [Theory]
    [InlineData(3, 130, 6, 2, 32)]
    [InlineData(2, 70, 4, 4, 64)]
    [InlineData(2, 12, 4, 2, 8)]
    public void Backward_with_end_matches_the_full_gradient_when_padding_gets_no_loss(int b, int t, int heads, int kvHeads, int d)
    {
        var rng = new Random(11 + t + d);
        var q = Random(rng, b * t * heads * d, 1.5f);
        var k = Random(rng, b * t * kvHeads * d, 1.5f);
        var v = Random(rng, b * t * kvHeads * d, 1f);
        var dOut = Random(rng, b * t * heads * d, 1f);
        int[] start = Enumerable.Range(0, b).Select(i => i == 1 ? 3 : 0).ToArray();
        int[] end = Enumerable.Range(0, b).Select(i => i == 0 ? t : t - 1 - rng.Next(t / 2)).ToArray();
        for (int i = 0; i < b; i++) dOut.AsSpan(((i * t) + end[i]) * heads * d, (t - end[i]) * heads * d).Clear(); // no loss on padding
        var output = new float[q.Length]; var lse = new float[b * heads * t];
        var scratch = new float[Attention.ScratchSize(b, t, t, heads, kvHeads, d)];
        Attention.Forward(output, lse, q, k, v, b, t, 0, t, heads, kvHeads, d, start, scratch, end);
        var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
        Attention.Backward(dq, dk, dv, dOut, q, k, v, output, lse, b, t, heads, kvHeads, d, start, scratch, end);
        var (rq, rk, rv) = NaiveBackward(dOut, q, k, v, b, t, heads, kvHeads, d, start);
        AssertClose(rq, dq, "dq");
        AssertClose(rk, dk, "dk");
        AssertClose(rv, dv, "dv");
    }

    [Fact]
    public void The_fast_exp_is_accurate_to_about_one_ulp_and_keeps_special_values()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return;
        double worst = 0;
        for (float x = -87.2f; x < 88.2f; x += 0.0037f)
        {
            double exact = Math.Exp(x);
            worst = Math.Max(worst, Math.Abs(Attention.Exp(System.Runtime.Intrinsics.Vector512.Create(x))[0] - exact) / exact);
        }
        Assert.True(worst < 2.4e-7, $"worst relative error {worst}");
        float[] special = [float.NaN, float.NegativeInfinity, -1000f, 0f, 1000f, float.PositiveInfinity];
        float[] expected = [float.NaN, 0f, 0f, 1f, float.PositiveInfinity, float.PositiveInfinity];
        for (int i = 0; i < special.Length; i++)
            Assert.Equal(expected[i], Attention.Exp(System.Runtime.Intrinsics.Vector512.Create(special[i]))[0]);
    }

    [Fact]
    public void A_scratch_too_small_for_one_tile_task_is_a_clear_error()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return; // the row kernels have no such check
        const int b = 1, t = 40, h = 2, d = 32;
        var x = new float[b * t * h * d];
        var ex = Assert.Throws<ArgumentException>(() => Attention.Forward(x, new float[b * h * t], x, x, x, b, t, 0, t, h, h, d, null, new float[10]));
        Assert.Contains("ScratchSize", ex.Message);
    }

    [Fact]
    public void Arrays_shorter_than_their_shape_and_bad_columns_are_clear_errors()
    {
        const int b = 2, t = 12, h = 2, d = 32;
        var x = new float[b * t * h * d]; var lse = new float[b * h * t]; var scratch = new float[Attention.ScratchSize(b, t, t, h, h, d)];
        var ex = Assert.Throws<ArgumentException>(() => Attention.Forward(x, lse, new float[x.Length - 1], x, x, b, t, 0, t, h, h, d, null, scratch));
        Assert.Contains("q holds", ex.Message);
        Assert.Throws<ArgumentException>(() => Attention.Forward(x, lse, x, x, x, b, t, 0, t, h, h, d, [0, -1], scratch));
        Assert.Throws<ArgumentException>(() => Attention.Forward(x, lse, x, x, x, b, t, 1, t, h, h, d, null, scratch)); // past + Tq > capacity
        ex = Assert.Throws<ArgumentException>(() => Attention.Backward(x, new float[10], x, x, x, x, x, x, lse, b, t, h, h, d, null, scratch));
        Assert.Contains("dk holds", ex.Message);
    }

    private static (double[] Output, double[] Lse) NaiveForward(float[] q, float[] k, float[] v, int batch, int tq, int past, int capacity,
        int heads, int kvHeads, int d, int[]? start, int[]? end = null)
    {
        var output = new double[batch * tq * heads * d];
        var lse = new double[batch * heads * tq];
        double scale = 1 / Math.Sqrt(d);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < tq; i++)
                {
                    int s0 = start?[b] ?? 0, last = past + i, g = h / (heads / kvHeads), row = ((b * tq + i) * heads + h) * d;
                    if (last < s0 || last >= (end?[b] ?? int.MaxValue)) { lse[(b * heads + h) * tq + i] = double.PositiveInfinity; continue; }
                    var scores = new double[last + 1];
                    for (int j = s0; j <= last; j++) scores[j] = scale * Dot(q, row, k, ((b * capacity + j) * kvHeads + g) * d, d);
                    double max = scores[s0..].Max(), sum = scores[s0..].Sum(s => Math.Exp(s - max));
                    for (int j = s0; j <= last; j++)
                        for (int c = 0; c < d; c++) output[row + c] += Math.Exp(scores[j] - max) / sum * v[((b * capacity + j) * kvHeads + g) * d + c];
                    lse[(b * heads + h) * tq + i] = max + Math.Log(sum);
                }
        return (output, lse);
    }

    private static (double[] Dq, double[] Dk, double[] Dv) NaiveBackward(float[] dOut, float[] q, float[] k, float[] v, int batch, int t,
        int heads, int kvHeads, int d, int[]? start)
    {
        var dq = new double[q.Length]; var dk = new double[k.Length]; var dv = new double[v.Length];
        double scale = 1 / Math.Sqrt(d);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = start?[b] ?? 0; i < t; i++)
                {
                    int s0 = start?[b] ?? 0, g = h / (heads / kvHeads), row = ((b * t + i) * heads + h) * d;
                    var p = new double[i + 1]; var dp = new double[i + 1];
                    for (int j = s0; j <= i; j++)
                    {
                        int kv = ((b * t + j) * kvHeads + g) * d;
                        p[j] = scale * Dot(q, row, k, kv, d);
                        dp[j] = Dot(dOut, row, v, kv, d);
                    }
                    double max = p[s0..].Max(), sum = p[s0..].Sum(s => Math.Exp(s - max));
                    for (int j = s0; j <= i; j++) p[j] = Math.Exp(p[j] - max) / sum;
                    double dsum = 0;
                    for (int j = s0; j <= i; j++) dsum += p[j] * dp[j];
                    for (int j = s0; j <= i; j++)
                    {
                        int kv = ((b * t + j) * kvHeads + g) * d;
                        double ds = p[j] * (dp[j] - dsum) * scale;
                        for (int c = 0; c < d; c++)
                        {
                            dq[row + c] += ds * k[kv + c];
                            dk[kv + c] += ds * q[row + c];
                            dv[kv + c] += p[j] * dOut[row + c];
                        }
                    }
                }
        return (dq, dk, dv);
    }

    private static double Dot(float[] a, int ia, float[] b, int ib, int d)
    {
        double sum = 0;
        for (int c = 0; c < d; c++) sum += (double)a[ia + c] * b[ib + c];
        return sum;
    }

    private static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (double.IsPositiveInfinity(expected[i]) && float.IsPositiveInfinity(actual[i])) continue;
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-4 * (1 + Math.Abs(expected[i])), $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
        }
    }

    private static void AssertClose(float[] expected, float[] actual, string what) => AssertClose(Array.ConvertAll(expected, x => (double)x), actual, what);

    private static float[] Random(Random rng, int n, float scale)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }
}
