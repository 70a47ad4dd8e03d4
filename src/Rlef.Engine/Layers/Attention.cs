namespace Rlef.Engine.Layers;

/// <summary>
/// Causal scaled-dot-product attention with grouped-query heads: query head h reads key/value head
/// h / (heads / kvHeads). Keys and values live in a cache laid out [B, capacity, kvHeads, d]; the Tq new queries
/// sit at columns [past, past + Tq) and see keys [start[b], column]. start[b] &gt; 0 masks a sequence's left padding.
/// The forward saves only the log-sum-exp of each score row; the backward recomputes the probabilities from it
/// (memory O(T) per head instead of O(T²), at the price of one more Q·Kᵀ).
/// </summary>
public static class Attention
{
    /// <summary>Floats of scratch that Forward and Backward need for these sizes (keys = past + Tq, or the cache capacity).</summary>
    public static int ScratchSize(int batch, int tq, int keys, int heads, int kvHeads, int headDim)
        => batch * heads * keys + batch * kvHeads * (2 * headDim + 2) * tq;

    // output[B,Tq,H,d], lse[B,H,Tq], q[B,Tq,H,d]; k,v[B,capacity,KVH,d]; start[B] or null; scratch ≥ ScratchSize
    public static void Forward(float[] output, float[] lse, float[] q, float[] k, float[] v, int batch, int tq, int past,
        int capacity, int heads, int kvHeads, int headDim, int[]? start, float[] scratch)
    {
        CheckHeads(heads, kvHeads);
        int group = heads / kvHeads, d = headDim, tk = past + tq;
        float scale = 1f / MathF.Sqrt(d);
        // Without a cache (training, scoring), every key row is read by Tq queries: transpose each (sequence, kv head)
        // block of K to [d, T] once, so that a row of scores is d vector AXPYs over keys instead of T short dot products.
        bool transposed = past == 0 && capacity == tq;
        int kTOffset = batch * heads * tk;
        if (transposed)
            Parallelism.For(batch * kvHeads, (long)tq * d, bg => Transpose(k, scratch.AsSpan(kTOffset + bg * d * tq, d * tq), bg / kvHeads, bg % kvHeads, tq, kvHeads, d));
        Parallelism.For(batch * heads, (long)tq * tk * d * 2, bh =>
        {
            int b = bh / heads, h = bh % heads, g = h / group;
            int s0 = start?[b] ?? 0;
            var scores = scratch.AsSpan(bh * tk, tk);
            for (int i = 0; i < tq; i++)
            {
                var qi = q.AsSpan(((b * tq + i) * heads + h) * d, d);
                var oi = output.AsSpan(((b * tq + i) * heads + h) * d, d);
                oi.Clear();
                int last = past + i;
                if (last < s0) { lse[bh * tq + i] = float.PositiveInfinity; continue; } // a padding query: no keys
                var row = scores[s0..(last + 1)];
                if (transposed)
                {
                    row.Clear();
                    var kT = scratch.AsSpan(kTOffset + (b * kvHeads + g) * d * tq, d * tq);
                    for (int c = 0; c < d; c++) Simd.Axpy(scale * qi[c], kT.Slice(c * tq + s0, row.Length), row);
                }
                else
                    for (int j = s0; j <= last; j++)
                        scores[j] = scale * Simd.Dot(qi, k.AsSpan(((b * capacity + j) * kvHeads + g) * d, d));
                float max = Simd.Max(row);
                float sum = Simd.ExpShifted(row, max, row);
                float inv = 1f / sum;
                for (int j = s0; j <= last; j++)
                    Simd.Axpy(scores[j] * inv, v.AsSpan(((b * capacity + j) * kvHeads + g) * d, d), oi);
                lse[bh * tq + i] = max + MathF.Log(sum);
            }
        });
    }

    // Training-time backward (past = 0, capacity = T). Overwrites dq[B,T,H,d], dk and dv[B,T,KVH,d].
    // Parallel over (sequence, kv head): every query head of a group writes the same dk/dv rows, so a group is one task.
    // With p = softmax(s), ds_j = p_j·(dp_j − D), D = Σ_j p_j·dp_j = dOut_i·out_i.
    public static void Backward(float[] dq, float[] dk, float[] dv, float[] dOutput, float[] q, float[] k, float[] v, float[] output,
        float[] lse, int batch, int t, int heads, int kvHeads, int headDim, int[]? start, float[] scratch)
    {
        CheckHeads(heads, kvHeads);
        int group = heads / kvHeads, d = headDim;
        float scale = 1f / MathF.Sqrt(d);
        int perTask = (2 * d + 2) * t;
        Parallelism.For(batch * kvHeads, (long)group * t * t * d * 4, bg =>
        {
            int b = bg / kvHeads, g = bg % kvHeads;
            int s0 = start?[b] ?? 0;
            for (int j = 0; j < t; j++)
            {
                dk.AsSpan(((b * t + j) * kvHeads + g) * d, d).Clear();
                dv.AsSpan(((b * t + j) * kvHeads + g) * d, d).Clear();
            }
            // This task's scratch: Kᵀ and Vᵀ of the group [d, T] (scores and dp as AXPYs over keys), then p and dp rows.
            var block = scratch.AsSpan(bg * perTask, perTask);
            var kT = block[..(d * t)];
            var vT = block.Slice(d * t, d * t);
            var p = block.Slice(2 * d * t, t);
            var dp = block.Slice(2 * d * t + t, t);
            Transpose(k, kT, b, g, t, kvHeads, d);
            Transpose(v, vT, b, g, t, kvHeads, d);
            for (int h = g * group; h < (g + 1) * group; h++)
                for (int i = 0; i < t; i++)
                {
                    int row = ((b * t + i) * heads + h) * d;
                    var qi = q.AsSpan(row, d);
                    var dqi = dq.AsSpan(row, d);
                    dqi.Clear();
                    if (i < s0) continue;
                    int count = i + 1 - s0;
                    var doi = dOutput.AsSpan(row, d);
                    float rowLse = lse[(b * heads + h) * t + i];
                    float dsum = Simd.Dot(doi, output.AsSpan(row, d));
                    var pRow = p.Slice(s0, count);
                    var dpRow = dp.Slice(s0, count);
                    pRow.Clear(); dpRow.Clear();
                    for (int c = 0; c < d; c++)
                    {
                        Simd.Axpy(scale * qi[c], kT.Slice(c * t + s0, count), pRow);
                        Simd.Axpy(doi[c], vT.Slice(c * t + s0, count), dpRow);
                    }
                    Simd.ExpShiftedScaleInPlace(pRow, rowLse, 1f);
                    for (int j = s0; j <= i; j++)
                    {
                        int kv = ((b * t + j) * kvHeads + g) * d;
                        float ds = p[j] * (dp[j] - dsum) * scale;
                        Simd.Axpy(ds, k.AsSpan(kv, d), dqi);
                        Simd.Axpy(ds, qi, dk.AsSpan(kv, d));
                        Simd.Axpy(p[j], doi, dv.AsSpan(kv, d));
                    }
                }
        });
    }

    // dst[c, j] = src[b, j, g, c] for one (sequence, kv head) block of a [B, T, KVH, d] tensor.
    private static void Transpose(float[] src, Span<float> dst, int b, int g, int t, int kvHeads, int d)
    {
        for (int j = 0; j < t; j++)
        {
            var row = src.AsSpan(((b * t + j) * kvHeads + g) * d, d);
            for (int c = 0; c < d; c++) dst[c * t + j] = row[c];
        }
    }

    private static void CheckHeads(int heads, int kvHeads)
    {
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads}).");
    }
}
