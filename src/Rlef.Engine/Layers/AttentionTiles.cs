using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rlef.Engine.Kernels;

namespace Rlef.Engine.Layers;

// The tile kernels. Every product (Q·Kᵀ, P·V, dOut·Vᵀ, Pᵀ·dOut, dSᵀ·Q, dS·K) is the same small register-blocked
// product `Tile`: 6 output rows × 32 columns in 12 Vector512 accumulators, each step one broadcast per row and two
// vector loads, so no score needs a horizontal sum. Keys are transposed ([d][keys]) once per task, which makes
// the scores a product whose columns are keys. One task is one (sequence, kv head): the group's query heads reuse
// the transposed keys, and in the backward they write the same dK/dV rows without races.
public static partial class Attention
{
    private const int TileRows = 6;        // output rows of one Tile call (12 accumulators at 32 columns)
    private const int BackwardQueries = 48; // query rows of a backward tile
    private const int BackwardKeys = 64;    // keys of a backward tile (a multiple of 16)

    private static bool UseTiles(int headDim) => (Vector512.IsHardwareAccelerated || Vector256.IsHardwareAccelerated) && headDim % 16 == 0;

    /// <summary>
    /// The tiles' vector width: 512 bits where the CPU has AVX-512, else 256 (AVX2). The two paths compute the same
    /// products in the same order per output element, so they agree to float rounding of the exp. ForceVector256
    /// selects the 256-bit path on an AVX-512 machine (tests and the benchmark; DOTNET_EnableAVX512=0 does it process-wide).
    /// </summary>
    internal static bool ForceVector256 { get; set; }
    private static bool Wide => Vector512.IsHardwareAccelerated && !ForceVector256;

    private static int Round16(int n) => (n + 15) & ~15;

    // Tasks run in at most this many scratch slots at once (a slot per thread; Degree may grow after a workspace is made).
    private static int TileSlots(int tasks) => Math.Max(1, Math.Min(tasks, Math.Max(EngineThreads.Degree, System.Environment.ProcessorCount)));

    // Forward slot: the transposed keys [d][Round16(keys)] and TileRows score rows.
    private static int ForwardSlotSize(int keys, int d) => (d + TileRows) * Round16(keys);

    // Backward slot: transposed key and value tiles [d][BackwardKeys], then the P and dS tiles [BackwardQueries][BackwardKeys].
    private static int BackwardSlotSize(int d) => (2 * d + 2 * BackwardQueries) * BackwardKeys;

    internal static void ForwardTiles(float[] output, float[] lse, float[] q, float[] k, float[] v, int batch, int tq, int past,
        int capacity, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end, bool wide)
    {
        int group = heads / kvHeads, d = headDim, tk = past + tq, slotSize = ForwardSlotSize(tk, d);
        float scale = 1f / MathF.Sqrt(d);
        int slots = Math.Min(batch * kvHeads, scratch.Length / slotSize);
        if (slots < 1) throw new ArgumentException($"Attention scratch holds {scratch.Length} floats; it needs at least {slotSize} (see ScratchSize).", nameof(scratch));
        ForSlots(batch * kvHeads, slots, (long)group * tq * tk * d * 2, (bg, slot) =>
        {
            int b = bg / kvHeads, g = bg % kvHeads;
            // Queries before `first` see no key (left padding), queries from `stop` on are right padding.
            int s0 = start?[b] ?? 0, first = Math.Clamp(s0 - past, 0, tq), stop = Math.Clamp((end?[b] ?? tk) - past, first, tq);
            for (int h = g * group; h < (g + 1) * group; h++)
                for (int i = 0; i < tq; i++)
                {
                    if (i >= first && i < stop) continue;
                    output.AsSpan(((b * tq + i) * heads + h) * d, d).Clear();
                    lse[(b * heads + h) * tq + i] = float.PositiveInfinity;
                }
            if (first == stop) return;
            int n = past + stop - s0, width = Round16(n), kt = slot * slotSize, sc = kt + d * width;
            int kvStride = kvHeads * d, qStride = heads * d, kv = ((b * capacity + s0) * kvHeads + g) * d;
            Transpose(k, kv, kvStride, n, d, scratch, kt, width);
            ref float q0 = ref MemoryMarshal.GetArrayDataReference(q);
            ref float o0 = ref MemoryMarshal.GetArrayDataReference(output);
            ref float s = ref MemoryMarshal.GetArrayDataReference(scratch);
            Span<float> inv = stackalloc float[TileRows];
            for (int h = g * group; h < (g + 1) * group; h++)
                for (int i0 = first; i0 < stop; i0 += TileRows)
                {
                    int rows = Math.Min(TileRows, stop - i0);
                    int seen = past + i0 + rows - s0; // keys the block's last row sees
                    var qRows = new Rows6(((b * tq + i0) * heads + h) * d, qStride, rows);
                    var sRows = new Rows6(sc, width, rows);
                    Tile(wide, ref q0, qRows, 1, ref Unsafe.Add(ref s, kt), width, ref s, sRows, rows, d, Round16(seen), scale, false);
                    for (int r = 0; r < rows; r++)
                    {
                        var (max, sum) = wide ? Softmax(ref Unsafe.Add(ref s, sc + r * width), past + i0 + r - s0 + 1, seen)
                            : Softmax256(ref Unsafe.Add(ref s, sc + r * width), past + i0 + r - s0 + 1, seen);
                        inv[r] = 1f / sum;
                        lse[(b * heads + h) * tq + i0 + r] = max + MathF.Log(sum);
                    }
                    Tile(wide, ref s, sRows, 1, ref v[kv], kvStride, ref o0, qRows, rows, seen, d, 1f, false);
                    for (int r = 0; r < rows; r++)
                    {
                        ref float o = ref Unsafe.Add(ref o0, ((b * tq + i0 + r) * heads + h) * d);
                        if (wide)
                        {
                            var vi = Vector512.Create(inv[r]);
                            for (int c = 0; c < d; c += 16) (Vector512.LoadUnsafe(ref o, (nuint)c) * vi).StoreUnsafe(ref o, (nuint)c);
                        }
                        else
                        {
                            var vi = Vector256.Create(inv[r]);
                            for (int c = 0; c < d; c += 8) (Vector256.LoadUnsafe(ref o, (nuint)c) * vi).StoreUnsafe(ref o, (nuint)c);
                        }
                    }
                }
        });
    }

    internal static void BackwardTiles(float[] dq, float[] dk, float[] dv, float[] dOutput, float[] q, float[] k, float[] v, float[] output,
        float[] lse, int batch, int t, int heads, int kvHeads, int headDim, int[]? start, float[] scratch, int[]? end, bool wide)
    {
        const int bq = BackwardQueries, bk = BackwardKeys;
        int group = heads / kvHeads, d = headDim, slotSize = BackwardSlotSize(d);
        float scale = 1f / MathF.Sqrt(d);
        int slots = Math.Min(batch * kvHeads, scratch.Length / slotSize);
        if (slots < 1) throw new ArgumentException($"Attention scratch holds {scratch.Length} floats; it needs at least {slotSize} (see ScratchSize).", nameof(scratch));
        ForSlots(batch * kvHeads, slots, (long)group * t * t * d * 4, (bg, slot) =>
        {
            int b = bg / kvHeads, g = bg % kvHeads;
            int s0 = start?[b] ?? 0, stop = Math.Min(t, end?[b] ?? t), kvStride = kvHeads * d, qStride = heads * d;
            ClearRows(dk, (b * t * kvHeads + g) * d, kvStride, t, d);
            ClearRows(dv, (b * t * kvHeads + g) * d, kvStride, t, d);
            for (int h = g * group; h < (g + 1) * group; h++) ClearRows(dq, (b * t * heads + h) * d, qStride, t, d);
            int kt = slot * slotSize, vt = kt + d * bk, pt = vt + d * bk, dst = pt + bq * bk;
            ref float s = ref MemoryMarshal.GetArrayDataReference(scratch);
            ref float q0 = ref MemoryMarshal.GetArrayDataReference(q);
            ref float do0 = ref MemoryMarshal.GetArrayDataReference(dOutput);
            ref float dq0 = ref MemoryMarshal.GetArrayDataReference(dq);
            // Key tiles from the first real column (keys before start[b] get no gradient); each query tile below the diagonal.
            for (int j0 = s0; j0 < stop; j0 += bk)
            {
                int nk = Math.Min(bk, stop - j0), kv = ((b * t + j0) * kvHeads + g) * d;
                Transpose(k, kv, kvStride, nk, d, scratch, kt, bk);
                Transpose(v, kv, kvStride, nk, d, scratch, vt, bk);
                for (int h = g * group; h < (g + 1) * group; h++)
                    for (int i0 = j0; i0 < stop; i0 += bq)
                    {
                        int nq = Math.Min(bq, stop - i0), seen = Math.Min(nk, i0 + nq - j0), seenPad = Round16(seen);
                        int qOffset = ((b * t + i0) * heads + h) * d;
                        // S = scale·Q·Kᵀ into the P tile, dP = dOut·Vᵀ into the dS tile.
                        for (int r0 = 0; r0 < nq; r0 += TileRows)
                        {
                            int rows = Math.Min(TileRows, nq - r0);
                            var qRows = new Rows6(qOffset + r0 * qStride, qStride, rows);
                            var tRows = new Rows6(r0 * bk, bk, rows);
                            Tile(wide, ref q0, qRows, 1, ref Unsafe.Add(ref s, kt), bk, ref Unsafe.Add(ref s, pt), tRows, rows, d, seenPad, scale, false);
                            Tile(wide, ref do0, qRows, 1, ref Unsafe.Add(ref s, vt), bk, ref Unsafe.Add(ref s, dst), tRows, rows, d, seenPad, 1f, false);
                        }
                        // P = exp(S − lse) on and below the diagonal, 0 above it; dS = P·(dP − D)·scale.
                        for (int r = 0; r < nq; r++)
                        {
                            int i = i0 + r, row = qOffset + r * qStride;
                            float rowLse = lse[(b * heads + h) * t + i], rowD = Dot(ref Unsafe.Add(ref do0, row), ref output[row], d);
                            int limit = Math.Min(i - j0, seen - 1);
                            if (wide) ProbabilityRow(ref Unsafe.Add(ref s, pt + r * bk), ref Unsafe.Add(ref s, dst + r * bk), seenPad, limit, rowLse, rowD, scale);
                            else ProbabilityRow256(ref Unsafe.Add(ref s, pt + r * bk), ref Unsafe.Add(ref s, dst + r * bk), seenPad, limit, rowLse, rowD, scale);
                        }
                        // dV[keys] += Pᵀ·dOut and dK[keys] += dSᵀ·Q: rows are keys, the inner dimension the tile's queries.
                        for (int c0 = 0; c0 < seen; c0 += TileRows)
                        {
                            int rows = Math.Min(TileRows, seen - c0);
                            var kRows = new Rows6(kv + c0 * kvStride, kvStride, rows);
                            var cols = new Rows6(c0, 1, rows);
                            Tile(wide, ref Unsafe.Add(ref s, pt), cols, bk, ref Unsafe.Add(ref do0, qOffset), qStride, ref dv[0], kRows, rows, nq, d, 1f, true);
                            Tile(wide, ref Unsafe.Add(ref s, dst), cols, bk, ref Unsafe.Add(ref q0, qOffset), qStride, ref dk[0], kRows, rows, nq, d, 1f, true);
                        }
                        // dQ[queries] += dS·K.
                        for (int r0 = 0; r0 < nq; r0 += TileRows)
                        {
                            int rows = Math.Min(TileRows, nq - r0);
                            Tile(wide, ref Unsafe.Add(ref s, dst), new Rows6(r0 * bk, bk, rows), 1, ref k[kv], kvStride,
                                ref dq0, new Rows6(qOffset + r0 * qStride, qStride, rows), rows, seen, d, 1f, true);
                        }
                    }
            }
        });
    }

    // row[j] = exp(row[j] − max) for j < n and 0 for n ≤ j < Round16(width), with max over the first n; returns (max, Σ).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float Max, float Sum) Softmax(ref float row, int n, int width)
    {
        var vMax = Vector512.Create(float.NegativeInfinity);
        for (int c = 0; c < n; c += 16)
        {
            var x = Vector512.LoadUnsafe(ref row, (nuint)c);
            if (c + 16 > n) x = Vector512.ConditionalSelect(Lanes(c, n), x, Vector512.Create(float.NegativeInfinity));
            vMax = Vector512.Max(vMax, x);
        }
        var m = Vector256.Max(vMax.GetLower(), vMax.GetUpper());
        var m4 = Vector128.Max(m.GetLower(), m.GetUpper());
        float max = MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
        var shift = Vector512.Create(max);
        var sum = Vector512<float>.Zero;
        for (int c = 0; c < width; c += 16)
        {
            var e = Exp(Vector512.LoadUnsafe(ref row, (nuint)c) - shift);
            if (c + 16 > n) e = Vector512.ConditionalSelect(Lanes(c, n), e, Vector512<float>.Zero);
            e.StoreUnsafe(ref row, (nuint)c);
            sum += e;
        }
        return (max, Vector512.Sum(sum));
    }

    // Lanes c + λ < n of a vector starting at column c.
    private static Vector512<float> Lanes(int c, int n) =>
        Vector512.LessThan(Vector512<int>.Indices + Vector512.Create(c), Vector512.Create(n)).AsSingle();

    /// <summary>
    /// e^x, to about 1 ulp, several times faster than Vector512.Exp (which computes in double): e^x = 2ⁿ·e^r with
    /// n = round(x·log₂e) and r = x − n·ln 2 (ln 2 in two parts so r stays exact), |r| ≤ ln2/2, and e^r by its Taylor
    /// series to r⁷ (truncation below 3e-9). Below −87.3 it gives 0 (e^x is subnormal there), above 88.3 +∞; NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        var n = Vector512.Round(x * Vector512.Create(1.44269504f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1f / 5040);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var twoToN = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        var y = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-87.3f)), Vector512<float>.Zero, p * twoToN);
        return Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(88.3f)), Vector512.Create(float.PositiveInfinity), y);
    }

    // Runs body(task, slot) for every task; a slot (its share of the scratch) is used by one thread at a time.
    private static void ForSlots(int tasks, int slots, long workPerTask, Action<int, int> body)
    {
        int next = -1;
        Parallelism.For(slots, workPerTask * ((tasks + slots - 1) / slots), slot =>
        {
            for (int task; (task = Interlocked.Increment(ref next)) < tasks;) body(task, slot);
        });
    }

    // dst[c·dstStride + j] = src[srcOffset + j·srcStride + c] for j < n, and 0 for n ≤ j < Round16(n) (the tiles read whole vectors).
    private static void Transpose(float[] src, int srcOffset, int srcStride, int n, int d, float[] dst, int dstOffset, int dstStride)
    {
        if (srcOffset + (long)(n - 1) * srcStride + d > src.Length || dstOffset + (long)(d - 1) * dstStride + Round16(n) > dst.Length)
            throw new IndexOutOfRangeException("Attention transpose out of range.");
        ref float from = ref src[srcOffset];
        ref float to = ref dst[dstOffset];
        for (int j = 0; j < n; j++)
        {
            ref float row = ref Unsafe.Add(ref from, (nint)j * srcStride);
            for (int c = 0; c < d; c++) Unsafe.Add(ref to, (nint)c * dstStride + j) = Unsafe.Add(ref row, c);
        }
        for (int c = 0; c < d; c++)
            for (int j = n; j < Round16(n); j++) Unsafe.Add(ref to, (nint)c * dstStride + j) = 0;
    }

    // Zeroes `rows` rows of d floats that are `stride` apart, starting at x[offset].
    private static void ClearRows(float[] x, int offset, int stride, int rows, int d)
    {
        if (rows <= 0) return;
        if (offset + (long)(rows - 1) * stride + d > x.Length) throw new IndexOutOfRangeException("Attention gradient rows out of range.");
        for (int r = 0; r < rows; r++) x.AsSpan(offset + r * stride, d).Clear();
    }

    /// <summary>Offsets of a tile's 6 rows: first + r·stride for r &lt; count; later rows repeat the last one, so reads stay in bounds.</summary>
    private readonly struct Rows6(int first, int stride, int count)
    {
        public readonly int R0 = first, R1 = first + Math.Min(1, count - 1) * stride, R2 = first + Math.Min(2, count - 1) * stride,
            R3 = first + Math.Min(3, count - 1) * stride, R4 = first + Math.Min(4, count - 1) * stride, R5 = first + Math.Min(5, count - 1) * stride;
    }

    /// <summary>
    /// C[r][0..n) = alpha·Σ_{κ&lt;k} A[r][κ]·B[κ][0..n)  (+ C[r][0..n) when accumulating), for the first `rows` of 6 rows.
    /// A[r][κ] is a[ar.Rr + κ·aStep] (aStep 1: A row-major; the tile width: A transposed); B row κ starts at b[κ·bStride];
    /// C row r at c[cr.Rr]. n is a multiple of 16; only rows &lt; `rows` are stored (repeated rows would add twice).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(bool wide, ref float a, in Rows6 ar, int aStep, ref float b, int bStride, ref float c, in Rows6 cr, int rows,
        int k, int n, float alpha, bool accumulate)
    {
        if (wide) Tile512(ref a, ar, aStep, ref b, bStride, ref c, cr, rows, k, n, alpha, accumulate);
        else Tile256(ref a, ar, aStep, ref b, bStride, ref c, cr, rows, k, n, alpha, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(ref float a, in Rows6 ar, int aStep, ref float b, int bStride, ref float c, in Rows6 cr, int rows,
        int k, int n, float alpha, bool accumulate)
    {
        ref float a0 = ref Unsafe.Add(ref a, ar.R0), a1 = ref Unsafe.Add(ref a, ar.R1), a2 = ref Unsafe.Add(ref a, ar.R2);
        ref float a3 = ref Unsafe.Add(ref a, ar.R3), a4 = ref Unsafe.Add(ref a, ar.R4), a5 = ref Unsafe.Add(ref a, ar.R5);
        int j = 0;
        for (; j + 32 <= n; j += 32)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            ref float bj = ref Unsafe.Add(ref b, j);
            nint ai = 0, bi = 0;
            for (int kk = 0; kk < k; kk++, ai += aStep, bi += bStride)
            {
                var b0 = Vector512.LoadUnsafe(ref Unsafe.Add(ref bj, bi));
                var b1 = Vector512.LoadUnsafe(ref Unsafe.Add(ref bj, bi + 16));
                var x = Vector512.Create(Unsafe.Add(ref a0, ai));
                c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                x = Vector512.Create(Unsafe.Add(ref a1, ai));
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                x = Vector512.Create(Unsafe.Add(ref a2, ai));
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                x = Vector512.Create(Unsafe.Add(ref a3, ai));
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                x = Vector512.Create(Unsafe.Add(ref a4, ai));
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(Unsafe.Add(ref a5, ai));
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            }
            Put(ref c, cr.R0 + j, c00, c01, alpha, accumulate);
            if (rows > 1) Put(ref c, cr.R1 + j, c10, c11, alpha, accumulate);
            if (rows > 2) Put(ref c, cr.R2 + j, c20, c21, alpha, accumulate);
            if (rows > 3) Put(ref c, cr.R3 + j, c30, c31, alpha, accumulate);
            if (rows > 4) Put(ref c, cr.R4 + j, c40, c41, alpha, accumulate);
            if (rows > 5) Put(ref c, cr.R5 + j, c50, c51, alpha, accumulate);
        }
        if (j < n) // the last 16 columns
        {
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
            ref float bj = ref Unsafe.Add(ref b, j);
            nint ai = 0, bi = 0;
            for (int kk = 0; kk < k; kk++, ai += aStep, bi += bStride)
            {
                var b0 = Vector512.LoadUnsafe(ref Unsafe.Add(ref bj, bi));
                c0 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a0, ai)), b0, c0);
                c1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a1, ai)), b0, c1);
                c2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a2, ai)), b0, c2);
                c3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a3, ai)), b0, c3);
                c4 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a4, ai)), b0, c4);
                c5 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref a5, ai)), b0, c5);
            }
            Put(ref c, cr.R0 + j, c0, alpha, accumulate);
            if (rows > 1) Put(ref c, cr.R1 + j, c1, alpha, accumulate);
            if (rows > 2) Put(ref c, cr.R2 + j, c2, alpha, accumulate);
            if (rows > 3) Put(ref c, cr.R3 + j, c3, alpha, accumulate);
            if (rows > 4) Put(ref c, cr.R4 + j, c4, alpha, accumulate);
            if (rows > 5) Put(ref c, cr.R5 + j, c5, alpha, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float c, int offset, Vector512<float> lo, Vector512<float> hi, float alpha, bool accumulate)
    {
        Put(ref c, offset, lo, alpha, accumulate);
        Put(ref c, offset + 16, hi, alpha, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(ref float c, int offset, Vector512<float> acc, float alpha, bool accumulate)
    {
        ref float dst = ref Unsafe.Add(ref c, offset);
        var value = acc * Vector512.Create(alpha);
        if (accumulate) value += Vector512.LoadUnsafe(ref dst);
        value.StoreUnsafe(ref dst);
    }

    // ───────── the 256-bit (AVX2) path: the same tiles, 16 columns as two Vector256 per row (12 accumulators of 16 registers) ─────────

    /// <summary><see cref="Tile512"/> with Vector256: 6 rows × 16 columns per block; n is a multiple of 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256(ref float a, in Rows6 ar, int aStep, ref float b, int bStride, ref float c, in Rows6 cr, int rows,
        int k, int n, float alpha, bool accumulate)
    {
        ref float a0 = ref Unsafe.Add(ref a, ar.R0), a1 = ref Unsafe.Add(ref a, ar.R1), a2 = ref Unsafe.Add(ref a, ar.R2);
        ref float a3 = ref Unsafe.Add(ref a, ar.R3), a4 = ref Unsafe.Add(ref a, ar.R4), a5 = ref Unsafe.Add(ref a, ar.R5);
        for (int j = 0; j < n; j += 16)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
            Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
            ref float bj = ref Unsafe.Add(ref b, j);
            nint ai = 0, bi = 0;
            for (int kk = 0; kk < k; kk++, ai += aStep, bi += bStride)
            {
                var b0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref bj, bi));
                var b1 = Vector256.LoadUnsafe(ref Unsafe.Add(ref bj, bi + 8));
                var x = Vector256.Create(Unsafe.Add(ref a0, ai));
                c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
                x = Vector256.Create(Unsafe.Add(ref a1, ai));
                c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
                x = Vector256.Create(Unsafe.Add(ref a2, ai));
                c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
                x = Vector256.Create(Unsafe.Add(ref a3, ai));
                c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
                x = Vector256.Create(Unsafe.Add(ref a4, ai));
                c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
                x = Vector256.Create(Unsafe.Add(ref a5, ai));
                c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            }
            Put256(ref c, cr.R0 + j, c00, c01, alpha, accumulate);
            if (rows > 1) Put256(ref c, cr.R1 + j, c10, c11, alpha, accumulate);
            if (rows > 2) Put256(ref c, cr.R2 + j, c20, c21, alpha, accumulate);
            if (rows > 3) Put256(ref c, cr.R3 + j, c30, c31, alpha, accumulate);
            if (rows > 4) Put256(ref c, cr.R4 + j, c40, c41, alpha, accumulate);
            if (rows > 5) Put256(ref c, cr.R5 + j, c50, c51, alpha, accumulate);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put256(ref float c, int offset, Vector256<float> lo, Vector256<float> hi, float alpha, bool accumulate)
    {
        ref float dst = ref Unsafe.Add(ref c, offset);
        var va = Vector256.Create(alpha);
        Vector256<float> x = lo * va, y = hi * va;
        if (accumulate) { x += Vector256.LoadUnsafe(ref dst); y += Vector256.LoadUnsafe(ref dst, 8); }
        x.StoreUnsafe(ref dst);
        y.StoreUnsafe(ref dst, 8);
    }

    // The backward's P and dS rows: P = exp(S − lse) for columns ≤ limit, 0 beyond; dS = P·(dP − D)·scale.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProbabilityRow(ref float pr, ref float dr, int width, int limit, float lse, float rowD, float scale)
    {
        var vLse = Vector512.Create(lse); var vD = Vector512.Create(rowD); var vScale = Vector512.Create(scale);
        var vLimit = Vector512.Create(limit);
        for (int c = 0; c < width; c += 16)
        {
            var keep = Vector512.LessThanOrEqual(Vector512<int>.Indices + Vector512.Create(c), vLimit).AsSingle();
            var p = Vector512.ConditionalSelect(keep, Exp(Vector512.LoadUnsafe(ref pr, (nuint)c) - vLse), Vector512<float>.Zero);
            p.StoreUnsafe(ref pr, (nuint)c);
            (p * (Vector512.LoadUnsafe(ref dr, (nuint)c) - vD) * vScale).StoreUnsafe(ref dr, (nuint)c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ProbabilityRow256(ref float pr, ref float dr, int width, int limit, float lse, float rowD, float scale)
    {
        var vLse = Vector256.Create(lse); var vD = Vector256.Create(rowD); var vScale = Vector256.Create(scale);
        var vLimit = Vector256.Create(limit);
        for (int c = 0; c < width; c += 8)
        {
            var keep = Vector256.LessThanOrEqual(Vector256<int>.Indices + Vector256.Create(c), vLimit).AsSingle();
            var p = Vector256.ConditionalSelect(keep, Exp(Vector256.LoadUnsafe(ref pr, (nuint)c) - vLse), Vector256<float>.Zero);
            p.StoreUnsafe(ref pr, (nuint)c);
            (p * (Vector256.LoadUnsafe(ref dr, (nuint)c) - vD) * vScale).StoreUnsafe(ref dr, (nuint)c);
        }
    }

    // Softmax with Vector256 (see Softmax).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float Max, float Sum) Softmax256(ref float row, int n, int width)
    {
        var vMax = Vector256.Create(float.NegativeInfinity);
        for (int c = 0; c < n; c += 8)
        {
            var x = Vector256.LoadUnsafe(ref row, (nuint)c);
            if (c + 8 > n) x = Vector256.ConditionalSelect(Lanes256(c, n), x, Vector256.Create(float.NegativeInfinity));
            vMax = Vector256.Max(vMax, x);
        }
        var m4 = Vector128.Max(vMax.GetLower(), vMax.GetUpper());
        float max = MathF.Max(MathF.Max(m4[0], m4[1]), MathF.Max(m4[2], m4[3]));
        var shift = Vector256.Create(max);
        var sum = Vector256<float>.Zero;
        for (int c = 0; c < width; c += 8)
        {
            var e = Exp(Vector256.LoadUnsafe(ref row, (nuint)c) - shift);
            if (c + 8 > n) e = Vector256.ConditionalSelect(Lanes256(c, n), e, Vector256<float>.Zero);
            e.StoreUnsafe(ref row, (nuint)c);
            sum += e;
        }
        return (max, Vector256.Sum(sum));
    }

    private static Vector256<float> Lanes256(int c, int n) =>
        Vector256.LessThan(Vector256<int>.Indices + Vector256.Create(c), Vector256.Create(n)).AsSingle();

    /// <summary>e^x with Vector256, the same polynomial and range handling as the Vector512 <see cref="Exp(Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        var n = Vector256.Round(x * Vector256.Create(1.44269504f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var p = Vector256.Create(1f / 5040);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 720));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var twoToN = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        var y = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(-87.3f)), Vector256<float>.Zero, p * twoToN);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(88.3f)), Vector256.Create(float.PositiveInfinity), y);
    }
}
