using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlef.Engine.Kernels;

// Packing copies a block of A or B into the order the micro-kernel reads it: consecutive k steps of one panel
// lie next to each other, so the kernel streams both operands with unit stride whatever the source layout.
// A logical operand element (r, c) lives at ptr[r * rowStride + c * colStride]; the three layouts differ only in
// which stride is 1, and each packer has a fast path for the stride pattern it meets.
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Whether B's 512-bit copy and 16×16 transpose paths may run; tests turn it off to cover the 256-bit paths an
    /// AVX2-only machine takes (DOTNET_EnableAVX512=0 does the same process-wide).
    /// </summary>
    internal static bool Use512 { get; set; } = Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

    /// <summary>
    /// Packs A rows [i0, i0+mc) × k steps [p0, p0+kc) into panels of <paramref name="mr"/> rows:
    /// dst[panel · mr · kc + p · mr + r]. Rows past mc are zero so edge panels can run the full kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(float* dst, float* a, nint rowStride, nint colStride, int i0, int mc, int p0, int kc, int mr)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (nint)ir * kc;
            float* src = a + (i0 + ir) * rowStride + p0 * colStride;
            if (rowStride == 1)
            {
                // A is stored transposed (TN): the mr values of one k step are contiguous.
                if (rows == 8 && mr == 8 && Vector256.IsHardwareAccelerated)
                {
                    for (int p = 0; p < kc; p++) Vector256.Load(src + p * colStride).Store(panel + (nint)p * 8);
                    continue;
                }
                if (rows == 6 && mr == 6 && Vector128.IsHardwareAccelerated)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * colStride;
                        float* d = panel + (nint)p * 6;
                        Vector128.Load(s).Store(d);
                        d[4] = s[4];
                        d[5] = s[5];
                    }
                    continue;
                }
                for (int p = 0; p < kc; p++)
                {
                    float* s = src + p * colStride;
                    float* d = panel + (nint)p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = s[r];
                    for (; r < mr; r++) d[r] = 0;
                }
            }
            else if (colStride == 1 && rows == 8 && mr == 8 && Avx.IsSupported)
            {
                // A is row-major (NN, NT) and the panel full: transpose 8×8 blocks in registers, so each k step's
                // eight values go out as one store instead of eight scattered ones.
                int p = 0;
                for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, rowStride, 8, panel + (nint)p * 8, 8);
                for (; p < kc; p++)
                    for (int r = 0; r < 8; r++) panel[(nint)p * 8 + r] = src[r * rowStride + p];
            }
            else if (colStride == 1 && rows == 6 && mr == 6 && Avx.IsSupported)
            {
                // The AVX2 kernel's 6-row panels: the same 8×8 transpose over six rows (two zero rows); each k step's
                // 8-float store overlaps the next step's, which overwrites the two extra values. The packing buffer
                // has slack after the last panel for the final step's overhang.
                int p = 0;
                for (; p + 8 <= kc; p += 8) Transpose8x8(src + p, rowStride, 6, panel + (nint)p * 6, 6);
                for (; p < kc; p++)
                    for (int r = 0; r < 6; r++) panel[(nint)p * 6 + r] = src[r * rowStride + p];
            }
            else
            {
                // A is row-major (NN, NT): each row is a contiguous run over k; write it down a column of the panel.
                for (int r = 0; r < rows; r++)
                {
                    float* s = src + r * rowStride;
                    float* d = panel + r;
                    if (colStride == 1)
                        for (int p = 0; p < kc; p++) d[(nint)p * mr] = s[p];
                    else
                        for (int p = 0; p < kc; p++) d[(nint)p * mr] = s[p * colStride];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) panel[(nint)p * mr + r] = 0;
            }
        }
    }

    /// <summary>
    /// Packs B k steps [p0, p0+kc) × columns [j0, j0+nc) into panels of <paramref name="nr"/> columns:
    /// dst[panel · nr · kc + p · nr + c]. Columns past nc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(float* dst, float* b, nint rowStride, nint colStride, int p0, int kc, int j0, int nc, int nr)
    {
        int start = 0;
        if (colStride == 1 && nr == 16 && Vector256.IsHardwareAccelerated && nc >= nr)
        {
            // B rows contiguous (NN, TN) and 16-column panels (the 256-bit kernel): one panel's k step is one 64-byte
            // line, so packing panel by panel walks down B a line per row, which the hardware prefetcher does not
            // follow. Row by row over the full panels instead reads B sequentially: +2 to +6% of the peak on the
            // NN/TN layer shapes with DOTNET_EnableAVX512=0; with the 48-column panels it measured 1-3% slower
            // (docs/results.md, pre-packed weights entry).
            int full = nc / nr;
            for (int p = 0; p < kc; p++)
            {
                float* s = b + (p0 + p) * rowStride + j0;
                float* d = dst + (nint)p * nr;
                for (int jp = 0; jp < full; jp++)
                {
                    float* sp = s + jp * nr;
                    float* dp = d + (nint)jp * nr * kc;
                    Vector256.Load(sp).Store(dp);
                    Vector256.Load(sp + 8).Store(dp + 8);
                }
            }
            start = full * nr;
        }
        for (int jr = start; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (nint)jr * kc;
            float* src = b + p0 * rowStride + (j0 + jr) * colStride;
            if (colStride == 1)
            {
                // B rows are contiguous over columns (NN, TN): copy nr floats per k step.
                if (cols == nr && Use512 && nr % 16 == 0)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * rowStride;
                        float* d = panel + (nint)p * nr;
                        for (int c = 0; c < nr; c += 16) Vector512.Store(Vector512.Load(s + c), d + c);
                    }
                }
                else if (cols == nr && Vector256.IsHardwareAccelerated && nr % 8 == 0)
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * rowStride;
                        float* d = panel + (nint)p * nr;
                        for (int c = 0; c < nr; c += 8) Vector256.Store(Vector256.Load(s + c), d + c);
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = src + p * rowStride;
                        float* d = panel + (nint)p * nr;
                        int c = 0;
                        for (; c < cols; c++) d[c] = s[c];
                        for (; c < nr; c++) d[c] = 0;
                    }
                }
            }
            else if (rowStride == 1 && Use512 && nr % 16 == 0)
            {
                // B is stored transposed (NT: a weight W[out,in]): transpose 16×16 tiles in registers.
                int c = 0;
                for (; c + 16 <= cols; c += 16)
                {
                    int p = 0;
                    for (; p + 16 <= kc; p += 16)
                        Transpose16x16(src + c * colStride + p, colStride, panel + (nint)p * nr + c, nr);
                    for (; p < kc; p++)
                        for (int x = 0; x < 16; x++) panel[(nint)p * nr + c + x] = src[(c + x) * colStride + p];
                }
                PackColumnsOneByOne(src, colStride, panel, nr, kc, c, cols);
            }
            else if (rowStride == 1 && Avx.IsSupported && nr % 8 == 0)
            {
                // The same without AVX-512: 8×8 tiles.
                int c = 0;
                for (; c + 8 <= cols; c += 8)
                {
                    int p = 0;
                    for (; p + 8 <= kc; p += 8)
                        Transpose8x8(src + c * colStride + p, colStride, 8, panel + (nint)p * nr + c, nr);
                    for (; p < kc; p++)
                        for (int x = 0; x < 8; x++) panel[(nint)p * nr + c + x] = src[(c + x) * colStride + p];
                }
                PackColumnsOneByOne(src, colStride, panel, nr, kc, c, cols);
            }
            else
            {
                for (int c = 0; c < nr; c++)
                {
                    if (c < cols)
                    {
                        float* s = src + c * colStride;
                        for (int p = 0; p < kc; p++) panel[(nint)p * nr + c] = s[p * rowStride];
                    }
                    else
                        for (int p = 0; p < kc; p++) panel[(nint)p * nr + c] = 0;
                }
            }
        }
    }

    /// <summary>
    /// dst[q·dstStride + r] = src[r·srcStride + q] for r &lt; rows (≤ 8; missing rows read as zero), q &lt; 8: eight k
    /// steps of up to eight rows. Each output row is one 8-float store, in increasing q, so with dstStride &lt; 8 a
    /// store's extra values are overwritten by the next one and only the last spills 8 − dstStride floats past the block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // The columns a transposed panel's register tiles leave over (and its zero padding up to nr), one at a time.
    private static void PackColumnsOneByOne(float* src, nint colStride, float* panel, int nr, int kc, int from, int cols)
    {
        for (int c = from; c < nr; c++)
        {
            if (c < cols)
            {
                float* s = src + c * colStride;
                for (int p = 0; p < kc; p++) panel[(nint)p * nr + c] = s[p];
            }
            else
                for (int p = 0; p < kc; p++) panel[(nint)p * nr + c] = 0;
        }
    }

    private static void Transpose8x8(float* src, nint srcStride, int rows, float* dst, nint dstStride)
    {
        var r0 = Vector256.Load(src);
        var r1 = Vector256.Load(src + srcStride);
        var r2 = Vector256.Load(src + 2 * srcStride);
        var r3 = Vector256.Load(src + 3 * srcStride);
        var r4 = Vector256.Load(src + 4 * srcStride);
        var r5 = Vector256.Load(src + 5 * srcStride);
        var r6 = rows > 6 ? Vector256.Load(src + 6 * srcStride) : default;
        var r7 = rows > 7 ? Vector256.Load(src + 7 * srcStride) : default;
        // Pairs of rows interleaved within 128-bit halves, then groups of four rows per column index.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);   // rows 0-3: columns 0|4, 1|5
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);   // rows 0-3: columns 2|6, 3|7
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);   // rows 4-7
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        // Join the low halves (columns 0-3) and the high halves (columns 4-7) of the two row groups.
        Avx.Permute2x128(s0, s4, 0x20).Store(dst);
        Avx.Permute2x128(s1, s5, 0x20).Store(dst + dstStride);
        Avx.Permute2x128(s2, s6, 0x20).Store(dst + 2 * dstStride);
        Avx.Permute2x128(s3, s7, 0x20).Store(dst + 3 * dstStride);
        Avx.Permute2x128(s0, s4, 0x31).Store(dst + 4 * dstStride);
        Avx.Permute2x128(s1, s5, 0x31).Store(dst + 5 * dstStride);
        Avx.Permute2x128(s2, s6, 0x31).Store(dst + 6 * dstStride);
        Avx.Permute2x128(s3, s7, 0x31).Store(dst + 7 * dstStride);
    }

    /// <summary>dst row q (16 floats at dst + q·dstStride) = column q of the 16 source rows at src + r·srcStride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16(float* src, nint srcStride, float* dst, nint dstStride)
    {
        // Per group of four rows, interleave within 128-bit lanes: u_s lane L = element 4L+s of those four rows.
        Group4(src, srcStride, out var u0, out var u1, out var u2, out var u3);
        Group4(src + 4 * srcStride, srcStride, out var u4, out var u5, out var u6, out var u7);
        Group4(src + 8 * srcStride, srcStride, out var u8, out var u9, out var u10, out var u11);
        Group4(src + 12 * srcStride, srcStride, out var u12, out var u13, out var u14, out var u15);
        // Then gather lane L of the four groups into output row 4L+s.
        Lanes(u0, u4, u8, u12, dst, dstStride);
        Lanes(u1, u5, u9, u13, dst + dstStride, dstStride);
        Lanes(u2, u6, u10, u14, dst + 2 * dstStride, dstStride);
        Lanes(u3, u7, u11, u15, dst + 3 * dstStride, dstStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Group4(float* src, nint stride, out Vector512<float> u0, out Vector512<float> u1,
        out Vector512<float> u2, out Vector512<float> u3)
    {
        var r0 = Vector512.Load(src);
        var r1 = Vector512.Load(src + stride);
        var r2 = Vector512.Load(src + 2 * stride);
        var r3 = Vector512.Load(src + 3 * stride);
        var t0 = Avx512F.UnpackLow(r0, r1);   // a0 b0 a1 b1 per lane
        var t1 = Avx512F.UnpackHigh(r0, r1);  // a2 b2 a3 b3
        var t2 = Avx512F.UnpackLow(r2, r3);   // c0 d0 c1 d1
        var t3 = Avx512F.UnpackHigh(r2, r3);  // c2 d2 c3 d3
        u0 = Avx512F.Shuffle(t0, t2, 0x44);   // a0 b0 c0 d0
        u1 = Avx512F.Shuffle(t0, t2, 0xEE);   // a1 b1 c1 d1
        u2 = Avx512F.Shuffle(t1, t3, 0x44);   // a2 b2 c2 d2
        u3 = Avx512F.Shuffle(t1, t3, 0xEE);   // a3 b3 c3 d3
    }

    // Rows 0..3 of the group: x (rows 0-3), y (4-7), z (8-11), w (12-15) hold element 4L+s in lane L.
    // Output row s + 4L = [x.lane L, y.lane L, z.lane L, w.lane L], written at dst + 4L·stride.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Lanes(Vector512<float> x, Vector512<float> y, Vector512<float> z, Vector512<float> w, float* dst, nint stride)
    {
        var even01 = Avx512F.Shuffle4x128(x, y, 0x88);  // x.L0 x.L2 y.L0 y.L2
        var odd01 = Avx512F.Shuffle4x128(x, y, 0xDD);   // x.L1 x.L3 y.L1 y.L3
        var even23 = Avx512F.Shuffle4x128(z, w, 0x88);
        var odd23 = Avx512F.Shuffle4x128(z, w, 0xDD);
        Avx512F.Shuffle4x128(even01, even23, 0x88).Store(dst);               // lane 0
        Avx512F.Shuffle4x128(odd01, odd23, 0x88).Store(dst + 4 * stride);    // lane 1
        Avx512F.Shuffle4x128(even01, even23, 0xDD).Store(dst + 8 * stride);  // lane 2
        Avx512F.Shuffle4x128(odd01, odd23, 0xDD).Store(dst + 12 * stride);   // lane 3
    }
}
