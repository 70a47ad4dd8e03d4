using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.Layers;

/// <summary>
/// Causal scaled-dot-product attention with grouped-query heads: query head h reads key/value head
/// h / (heads / kvHeads). Keys and values live in a cache laid out [B, capacity, kvHeads, d]; the Tq new queries
/// sit at columns [past, past + Tq) and see keys [start[b], column]. start[b] &gt; 0 masks a sequence's left padding.
/// The forward saves only the log-sum-exp of each score row; the backward recomputes the probabilities from it
/// (memory O(T) per head instead of O(T²), at the price of one more Q·Kᵀ) in the same pass that uses them.
/// Two implementations: tile kernels (AttentionTiles.cs: small register-blocked products, one task per sequence and
/// kv head so a group's query heads share its transposed keys) and the row kernels below (one dot product per
/// score), used for decoding steps and where the tiles do not apply (no AVX-512, or d not a multiple of 16).
/// </summary>
public static partial class Attention
{
    /// <summary>Floats of scratch that Forward and Backward need for these sizes (keys = past + Tq, or the cache capacity).</summary>
    public static int ScratchSize(int batch, int tq, int keys, int heads, int kvHeads, int headDim)
    {
        long rows = (long)batch * heads * Math.Max(keys, tq); // the row kernels: a score row per (sequence, head)
        long tiles = (long)TileSlots(batch * kvHeads) * Math.Max(ForwardSlotSize(Math.Max(keys, tq), headDim), BackwardSlotSize(headDim));
        return checked((int)Math.Max(rows, tiles));
    }

    /// <summary>Forces the row kernels everywhere: the baseline of the attention benchmark's whole-model step.</summary>
    internal static bool ForceRowKernels { get; set; }

    // output[B,Tq,H,d], lse[B,H,Tq], q[B,Tq,H,d]; k,v[B,capacity,KVH,d]; start[B] or null; scratch ≥ ScratchSize.
    // end[B] (optional): columns ≥ end[b] are right padding whose outputs nothing reads (no loss, and causal attention
    // keeps them out of earlier rows); their queries are skipped like left padding (output 0, lse = +∞).
    public static void Forward(float[] output, float[] lse, float[] q, float[] k, float[] v, int batch, int tq, int past,
        int capacity, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end = null)
    {
        CheckHeads(heads, kvHeads);
        long queries = (long)batch * tq * heads * headDim, cached = (long)batch * capacity * kvHeads * headDim;
        if (past < 0 || past + tq > capacity) throw new ArgumentException($"Attention: past ({past}) + Tq ({tq}) exceeds the capacity ({capacity}).");
        CheckLength(output, queries, nameof(output)); CheckLength(q, queries, nameof(q)); CheckLength(lse, (long)batch * heads * tq, nameof(lse));
        CheckLength(k, cached, nameof(k)); CheckLength(v, cached, nameof(v));
        CheckColumns(start, batch, capacity, nameof(start)); CheckColumns(end, batch, int.MaxValue, nameof(end));
        if (UseTiles(headDim) && tq >= TileRows && !ForceRowKernels)
            ForwardTiles(output, lse, q, k, v, batch, tq, past, capacity, heads, kvHeads, headDim, start, scratch, end);
        else
            ForwardRows(output, lse, q, k, v, batch, tq, past, capacity, heads, kvHeads, headDim, start, scratch, end);
    }

    // Training-time backward (past = 0, capacity = T). Overwrites dq[B,T,H,d], dk and dv[B,T,KVH,d]. With end given
    // (as in the forward), rows ≥ end[b] get zero gradients: exact when dOutput is zero there, as it is when no loss reads them.
    // With p = exp(s − lse) from the saved log-sum-exp, dp = dOut_i·v_j and D = Σ_j p_j·dp_j = dOut_i·out_i:
    // ds = p·(dp − D), dq_i += ds·k_j, dk_j += ds·q_i, dv_j += p·dOut_i (ds times the 1/√d score scale).
    public static void Backward(float[] dq, float[] dk, float[] dv, float[] dOutput, float[] q, float[] k, float[] v, float[] output,
        float[] lse, int batch, int t, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end = null)
    {
        CheckHeads(heads, kvHeads);
        long queries = (long)batch * t * heads * headDim, keys = (long)batch * t * kvHeads * headDim;
        CheckLength(dq, queries, nameof(dq)); CheckLength(dOutput, queries, nameof(dOutput)); CheckLength(q, queries, nameof(q));
        CheckLength(output, queries, nameof(output)); CheckLength(lse, (long)batch * heads * t, nameof(lse));
        CheckLength(dk, keys, nameof(dk)); CheckLength(dv, keys, nameof(dv)); CheckLength(k, keys, nameof(k)); CheckLength(v, keys, nameof(v));
        CheckColumns(start, batch, t, nameof(start)); CheckColumns(end, batch, int.MaxValue, nameof(end));
        if (UseTiles(headDim) && !ForceRowKernels)
            BackwardTiles(dq, dk, dv, dOutput, q, k, v, output, lse, batch, t, heads, kvHeads, headDim, start, scratch, end);
        else
            BackwardRows(dq, dk, dv, dOutput, q, k, v, output, lse, batch, t, heads, kvHeads, headDim, start, scratch, end);
    }

    // The row kernel: one query row at a time, one dot product per score. Used for decoding (a few queries against
    // many keys), where a tile would be mostly empty, and where the tile kernels do not apply; also the benchmark's baseline.
    internal static void ForwardRows(float[] output, float[] lse, float[] q, float[] k, float[] v, int batch, int tq, int past,
        int capacity, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end = null)
    {
        int group = heads / kvHeads, d = headDim, tk = past + tq;
        float scale = 1f / MathF.Sqrt(d);
        Parallelism.For(batch * heads, (long)tq * tk * d * 2, bh =>
        {
            int b = bh / heads, h = bh % heads, g = h / group;
            int s0 = start?[b] ?? 0, e = end?[b] ?? tk;
            var scores = scratch.AsSpan(bh * tk, tk);
            ref float k0 = ref MemoryMarshal.GetArrayDataReference(k);
            ref float v0 = ref MemoryMarshal.GetArrayDataReference(v);
            for (int i = 0; i < tq; i++)
            {
                int row = ((b * tq + i) * heads + h) * d;
                ref float qi = ref q[row];
                ref float oi = ref output[row];
                output.AsSpan(row, d).Clear();
                int last = past + i;
                if (last < s0 || last >= e) { lse[bh * tq + i] = float.PositiveInfinity; continue; } // a padding query: no keys
                for (int j = s0; j <= last; j++)
                    scores[j] = scale * Dot(ref qi, ref Unsafe.Add(ref k0, ((b * capacity + j) * kvHeads + g) * d), d);
                var rowScores = scores[s0..(last + 1)];
                float max = Simd.Max(rowScores);
                float sum = Simd.ExpShifted(rowScores, max, rowScores);
                float inv = 1f / sum;
                for (int j = s0; j <= last; j++)
                    Axpy(scores[j] * inv, ref Unsafe.Add(ref v0, ((b * capacity + j) * kvHeads + g) * d), ref oi, d);
                lse[bh * tq + i] = max + MathF.Log(sum);
            }
        });
    }

    // The row backward (the tile kernels' fallback and the benchmark's baseline).
    // Parallel over (sequence, kv head): every query head of a group writes the same dk/dv rows, so a group is one task.
    // One pass per (query i, key j).
    internal static void BackwardRows(float[] dq, float[] dk, float[] dv, float[] dOutput, float[] q, float[] k, float[] v, float[] output,
        float[] lse, int batch, int t, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end = null)
    {
        int group = heads / kvHeads, d = headDim;
        float scale = 1f / MathF.Sqrt(d);
        Parallelism.For(batch * kvHeads, (long)group * t * t * d * 4, bg =>
        {
            int b = bg / kvHeads, g = bg % kvHeads;
            int s0 = start?[b] ?? 0, e = end?[b] ?? t;
            for (int j = 0; j < t; j++)
            {
                dk.AsSpan(((b * t + j) * kvHeads + g) * d, d).Clear();
                dv.AsSpan(((b * t + j) * kvHeads + g) * d, d).Clear();
            }
            ref float k0 = ref MemoryMarshal.GetArrayDataReference(k);
            ref float v0 = ref MemoryMarshal.GetArrayDataReference(v);
            ref float dk0 = ref MemoryMarshal.GetArrayDataReference(dk);
            ref float dv0 = ref MemoryMarshal.GetArrayDataReference(dv);
            for (int h = g * group; h < (g + 1) * group; h++)
                for (int i = 0; i < t; i++)
                {
                    int row = ((b * t + i) * heads + h) * d;
                    dq.AsSpan(row, d).Clear();
                    if (i < s0 || i >= e) continue;
                    ref float qi = ref q[row];
                    ref float doi = ref dOutput[row];
                    ref float dqi = ref dq[row];
                    float rowLse = lse[(b * heads + h) * t + i];
                    float dsum = Dot(ref doi, ref output[row], d);
                    for (int j = s0; j <= i; j++)
                    {
                        int kv = ((b * t + j) * kvHeads + g) * d;
                        ref float kj = ref Unsafe.Add(ref k0, kv);
                        ref float vj = ref Unsafe.Add(ref v0, kv);
                        var (qk, dp) = DualDot(ref qi, ref kj, ref doi, ref vj, d);
                        float p = MathF.Exp(scale * qk - rowLse);
                        float ds = p * (dp - dsum) * scale;
                        Axpy(ds, ref kj, ref dqi, d);
                        Axpy(ds, ref qi, ref Unsafe.Add(ref dk0, kv), d);
                        Axpy(p, ref doi, ref Unsafe.Add(ref dv0, kv), d);
                    }
                }
        });
    }

    // Inlined head-dimension kernels: at d = 64 a call costs as much as the arithmetic, so they must not be calls.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float a, ref float b, int d)
    {
        int c = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc = Vector512<float>.Zero;
            for (; c <= d - 16; c += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref a, (nuint)c), Vector512.LoadUnsafe(ref b, (nuint)c), acc);
            sum = Vector512.Sum(acc);
        }
        else
        {
            var acc = Vector256<float>.Zero;
            for (; c <= d - 8; c += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)c), Vector256.LoadUnsafe(ref b, (nuint)c), acc);
            sum = Vector256.Sum(acc);
        }
        for (; c < d; c++) sum += Unsafe.Add(ref a, c) * Unsafe.Add(ref b, c);
        return sum;
    }

    // (a·b, x·y) in one pass.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (float, float) DualDot(ref float a, ref float b, ref float x, ref float y, int d)
    {
        int c = 0;
        float s1 = 0, s2 = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var acc1 = Vector512<float>.Zero; var acc2 = Vector512<float>.Zero;
            for (; c <= d - 16; c += 16)
            {
                acc1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref a, (nuint)c), Vector512.LoadUnsafe(ref b, (nuint)c), acc1);
                acc2 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref x, (nuint)c), Vector512.LoadUnsafe(ref y, (nuint)c), acc2);
            }
            s1 = Vector512.Sum(acc1); s2 = Vector512.Sum(acc2);
        }
        else
        {
            var acc1 = Vector256<float>.Zero; var acc2 = Vector256<float>.Zero;
            for (; c <= d - 8; c += 8)
            {
                acc1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref a, (nuint)c), Vector256.LoadUnsafe(ref b, (nuint)c), acc1);
                acc2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)c), Vector256.LoadUnsafe(ref y, (nuint)c), acc2);
            }
            s1 = Vector256.Sum(acc1); s2 = Vector256.Sum(acc2);
        }
        for (; c < d; c++) { s1 += Unsafe.Add(ref a, c) * Unsafe.Add(ref b, c); s2 += Unsafe.Add(ref x, c) * Unsafe.Add(ref y, c); }
        return (s1, s2);
    }

    // y += alpha·x over d floats.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float alpha, ref float x, ref float y, int d)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; c <= d - 16; c += 16)
                Vector512.FusedMultiplyAdd(va, Vector512.LoadUnsafe(ref x, (nuint)c), Vector512.LoadUnsafe(ref y, (nuint)c)).StoreUnsafe(ref y, (nuint)c);
        }
        else
        {
            var va = Vector256.Create(alpha);
            for (; c <= d - 8; c += 8)
                Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref x, (nuint)c), Vector256.LoadUnsafe(ref y, (nuint)c)).StoreUnsafe(ref y, (nuint)c);
        }
        for (; c < d; c++) Unsafe.Add(ref y, c) += alpha * Unsafe.Add(ref x, c);
    }

    // The kernels index without bounds checks: every array must hold its whole shape.
    private static void CheckLength(float[] x, long needed, string name)
    {
        if (x.Length < needed) throw new ArgumentException($"Attention: {name} holds {x.Length} floats; the shape needs {needed}.", name);
    }

    private static void CheckColumns(int[]? columns, int batch, int max, string name)
    {
        if (columns is null) return;
        if (columns.Length < batch) throw new ArgumentException($"Attention: {name} has {columns.Length} entries for {batch} sequences.", name);
        for (int b = 0; b < batch; b++)
            if (columns[b] < 0 || columns[b] > max) throw new ArgumentException($"Attention: {name}[{b}] = {columns[b]} is outside [0, {max}].", name);
    }

    private static void CheckHeads(int heads, int kvHeads)
    {
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw new ArgumentException($"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads}).");
    }
}
