using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.Kernels;

// Single-precision matrix multiply in the three layouts training needs. All matrices are dense row-major.
// This is the engine's one entry point for matmul: the model calls only these, so the kernel behind them can
// be replaced without touching the model.
//
// Large products go through a Goto/BLIS-style blocked algorithm: B is packed in KC×NC blocks, A in MC×KC blocks,
// and a register-blocked micro-kernel (8×48 on AVX-512, 6×16 on AVX2) computes one tile of C per call. Thin
// products (a handful of rows or columns, e.g. decoding one token) skip packing, which would cost more than it saves.
// Work is split across EngineThreads by columns or rows of C, so threads never write the same element and the
// result does not depend on the thread count.
public static unsafe class Gemm
{
    /// <summary>C[m,n] (+)= A[m,k] · B[k,n].</summary>
    public static void NN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
    {
        Validate(a.Length, b.Length, c.Length, m, n, k);
        fixed (float* pa = a, pb = b, pc = c)
            Multiply(new Operand(pa, k, 1), new Operand(pb, n, 1), pc, m, n, k, accumulate);
    }

    /// <summary>C[m,n] (+)= A[m,k] · B[n,k]ᵀ  (forward of a linear layer with weight W[out,in]).</summary>
    public static void NT(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
    {
        Validate(a.Length, b.Length, c.Length, m, n, k);
        fixed (float* pa = a, pb = b, pc = c)
            Multiply(new Operand(pa, k, 1), new Operand(pb, 1, k), pc, m, n, k, accumulate);
    }

    /// <summary>
    /// C[m,n] (+)= A[m,k] · Wᵀ with W[n,k] packed beforehand by <see cref="PackedWeight.Pack"/>: the same products
    /// in the same order as <see cref="NT(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool)"/>
    /// on W (so the same bits), without packing W again. Thin products and a weight packed for another kernel or
    /// K block read W itself.
    /// </summary>
    public static void NT(ReadOnlySpan<float> a, PackedWeight w, Span<float> c, int m, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(w);
        int n = w.Rows, k = w.Columns;
        Validate(a.Length, w.Source.Length, c.Length, m, n, k);
        fixed (float* pa = a, pb = w.Source, pc = c)
            Multiply(new Operand(pa, k, 1), new Operand(pb, 1, k), pc, m, n, k, accumulate, w.Fits(Isa, KC) ? w : null);
    }

    /// <summary>C[m,n] (+)= A[k,m]ᵀ · B[k,n]  (weight gradient: dW = dYᵀ · X).</summary>
    public static void TN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
    {
        Validate(a.Length, b.Length, c.Length, m, n, k);
        fixed (float* pa = a, pb = b, pc = c)
            Multiply(new Operand(pa, 1, m), new Operand(pb, n, 1), pc, m, n, k, accumulate);
    }

    /// <summary>Plain triple loop: the correctness oracle for the fast kernels.</summary>
    public static void Reference(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transA, bool transB, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = accumulate ? c[i * n + j] + sum : sum;
            }
    }

    /// <summary>Which micro-kernel the packed path uses; tests switch it to cover the AVX2 kernel on AVX-512 machines.</summary>
    internal static GemmIsa Isa { get; set; } = Vector512.IsHardwareAccelerated ? GemmIsa.Avx512 : GemmIsa.Avx2;

    /// <summary>Description of the kernel in use, for benchmark reports.</summary>
    public static string KernelName => Isa == GemmIsa.Avx512
        ? $"packed Vector512 {GemmMicroKernels.Mr512}x{GemmMicroKernels.Nr512}"
        : $"packed Vector256 {GemmMicroKernels.Mr256}x{GemmMicroKernels.Nr256}";

    // Cache blocking: an MC×KC block of packed A (256 KiB) stays in L2, a KC×NC block of packed B in L3, and the
    // micro-kernel streams one 8×KC panel of A against one KC×48 panel of B (48 KiB, from L1/L2). On Zen 5
    // (48 KiB L1d, 1 MiB L2) KC=128, which keeps the B panel in L1, measured 5-10% slower: the C tile is then
    // loaded and stored twice as often. KC=384 and KC=512 were within noise of 256.
    internal static int KC = 256, MC = 256, NC = 3072;

    // Below this many multiply-adds a product runs on the calling thread only (a dispatch costs a few µs).
    private const long ParallelThreshold = 1 << 18;

    private static void Validate(int aLength, int bLength, int cLength, int m, int n, int k)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"Gemm: negative dimension (m={m}, n={n}, k={k}).");
        if (aLength < (long)m * k) throw new ArgumentException($"Gemm: A has {aLength} elements, needs m·k = {(long)m * k} (m={m}, k={k}).");
        if (bLength < (long)k * n) throw new ArgumentException($"Gemm: B has {bLength} elements, needs k·n = {(long)k * n} (k={k}, n={n}).");
        if (cLength < (long)m * n) throw new ArgumentException($"Gemm: C has {cLength} elements, needs m·n = {(long)m * n} (m={m}, n={n}).");
    }

    private static void Multiply(Operand a, Operand b, float* c, int m, int n, int k, bool accumulate, PackedWeight? packedB = null)
    {
        if (m == 0 || n == 0) return;
        if (k == 0)
        {
            if (!accumulate) new Span<float>(c, checked(m * n)).Clear();
            return;
        }

        long work = (long)m * n * k;
        int mr = Isa == GemmIsa.Avx512 ? GemmMicroKernels.Mr512 : GemmMicroKernels.Mr256;
        bool thin = m < mr / 2 || n < 8 || work < 4096;
        bool parallel = work >= ParallelThreshold && EngineThreads.Degree > 1;
        nint ldc = n;

        if (thin)
        {
            if (!parallel) { GemmThin.Run(a, b, c, ldc, m, 0, n, k, accumulate); return; }
            nint pa = (nint)a.Ptr, pb = (nint)b.Ptr, pc = (nint)c;
            var (ars, acs, brs, bcs) = (a.RowStride, a.ColStride, b.RowStride, b.ColStride);
            EngineThreads.ForRange(n, 16, (j0, j1) =>
                GemmThin.Run(new Operand((float*)pa, ars, acs), new Operand((float*)pb, brs, bcs), (float*)pc, ldc, m, j0, j1, k, accumulate));
            return;
        }

        // A packed weight is read in place; the pinned array keeps its address fixed while threads use it.
        var pre = packedB is null ? default : new PrepackedB(packedB.Panels, packedB.PaddedRows, 0);
        if (!parallel) { Blocked(a, b, pre, c, ldc, m, n, k, accumulate); return; }

        // Split C into column blocks when A is the smaller operand (each thread re-packs all of A), else row blocks.
        {
            nint pa = (nint)a.Ptr, pb = (nint)b.Ptr, pc = (nint)c;
            var (ars, acs, brs, bcs) = (a.RowStride, a.ColStride, b.RowStride, b.ColStride);
            int nr = Isa == GemmIsa.Avx512 ? GemmMicroKernels.Nr512 : GemmMicroKernels.Nr256;
            bool byColumns = (long)m <= n && n >= 2 * nr;
            if (byColumns)
                EngineThreads.ForRange(n, nr, (j0, j1) =>
                    Blocked(new Operand((float*)pa, ars, acs), new Operand((float*)pb + j0 * bcs, brs, bcs), pre.FromColumn(j0),
                        (float*)pc + j0, ldc, m, j1 - j0, k, accumulate));
            else
                EngineThreads.ForRange(m, mr, (i0, i1) =>
                    Blocked(new Operand((float*)pa + i0 * ars, ars, acs), new Operand((float*)pb, brs, bcs), pre,
                        (float*)pc + i0 * ldc, ldc, i1 - i0, n, k, accumulate));
        }
    }

    // One thread's share: the blocked algorithm over an m×n block of C with leading dimension ldc. With a prepacked
    // B its panels are read where PackedWeight put them instead of being packed into the thread's buffer.
    // Kernels are compiled fully optimised at once: tiered compilation would run the first products (often a
    // whole benchmark or the first training steps) through unoptimised loops.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blocked(Operand a, Operand b, PrepackedB pre, float* c, nint ldc, int m, int n, int k, bool accumulate)
    {
        bool wide = Isa == GemmIsa.Avx512;
        int mr = wide ? GemmMicroKernels.Mr512 : GemmMicroKernels.Mr256;
        int nr = wide ? GemmMicroKernels.Nr512 : GemmMicroKernels.Nr256;
        int kcMax = KC, mcMax = RoundUp(MC, mr), ncMax = RoundUp(NC, nr);
        var buffers = PackBuffers.ForThisThread(pre.Panels == null ? RoundUp(Math.Min(ncMax, RoundUp(n, nr)), nr) * kcMax : 0,
            RoundUp(Math.Min(mcMax, RoundUp(m, mr)), mr) * kcMax, mr * nr);
        float* packedA = buffers.A, edge = buffers.Edge;

        for (int jc = 0; jc < n; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                bool addToC = accumulate || pc > 0;
                float* packedB;
                if (pre.Panels == null)
                {
                    packedB = buffers.B;
                    GemmPacking.PackB(packedB, b.Ptr, b.RowStride, b.ColStride, pc, kc, jc, nc, nr);
                }
                else packedB = pre.Panels + (nint)pc * pre.PaddedRows + (nint)(pre.Column + jc) * kc;
                for (int ic = 0; ic < m; ic += mcMax)
                {
                    int mc = Math.Min(mcMax, m - ic);
                    GemmPacking.PackA(packedA, a.Ptr, a.RowStride, a.ColStride, ic, mc, pc, kc, mr);
                    for (int jr = 0; jr < nc; jr += nr)
                    {
                        int cols = Math.Min(nr, nc - jr);
                        float* bPanel = packedB + (nint)jr * kc;
                        for (int ir = 0; ir < mc; ir += mr)
                        {
                            int rows = Math.Min(mr, mc - ir);
                            float* aPanel = packedA + (nint)ir * kc;
                            float* cTile = c + (ic + ir) * ldc + jc + jr;
                            if (rows == mr && cols == nr)
                                Kernel(wide, aPanel, bPanel, cTile, ldc, kc, addToC);
                            else
                            {
                                // Edge tile: run the full kernel into a scratch tile, then copy the valid part.
                                Kernel(wide, aPanel, bPanel, edge, nr, kc, accumulate: false);
                                for (int r = 0; r < rows; r++)
                                {
                                    float* dst = cTile + r * ldc;
                                    float* src = edge + r * nr;
                                    if (addToC) for (int x = 0; x < cols; x++) dst[x] += src[x];
                                    else for (int x = 0; x < cols; x++) dst[x] = src[x];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(bool wide, float* a, float* b, float* c, nint ldc, int kc, bool accumulate)
    {
        if (wide) GemmMicroKernels.Kernel8x48(a, b, c, ldc, kc, accumulate);
        else GemmMicroKernels.Kernel6x16(a, b, c, ldc, kc, accumulate);
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    // Per-thread packing buffers, 64-byte aligned, kept for the thread's lifetime so no product allocates.
    private sealed class PackBuffers
    {
        [ThreadStatic] private static PackBuffers? _current;
        private float[] _storage = [];
        private int _bLength, _aLength, _edgeLength;

        public float* B { get; private set; }
        public float* A { get; private set; }
        public float* Edge { get; private set; }

        public static PackBuffers ForThisThread(int bLength, int aLength, int edgeLength)
        {
            var buffers = _current ??= new PackBuffers();
            if (bLength > buffers._bLength || aLength > buffers._aLength || edgeLength > buffers._edgeLength)
                buffers.Grow(Math.Max(bLength, buffers._bLength), Math.Max(aLength, buffers._aLength), Math.Max(edgeLength, buffers._edgeLength));
            return buffers;
        }

        private void Grow(int bLength, int aLength, int edgeLength)
        {
            const int align = 16; // floats per 64 bytes
            // A gets one cache line of slack: the 6-row packer's last 8-float store overhangs its block (GemmPacking).
            int bSize = RoundUp(bLength, align), aSize = RoundUp(aLength + align, align), eSize = RoundUp(edgeLength, align);
            // Pinned, so the raw pointers stay valid; the slack lets the start be rounded up to a cache line.
            _storage = GC.AllocateArray<float>(bSize + aSize + eSize + align, pinned: true);
            float* start = (float*)Unsafe.AsPointer(ref _storage[0]);
            start = (float*)(((nint)start + 63) & ~(nint)63);
            B = start;
            A = start + bSize;
            Edge = start + bSize + aSize;
            (_bLength, _aLength, _edgeLength) = (bLength, aLength, edgeLength);
        }
    }
}

// A weight's panels packed by PackedWeight: K block pc starts at pc·paddedRows floats, and within it the panel of
// output columns [j, j+nr) at j·kc (PackB's layout for the whole width). Column: where this thread's share starts.
internal readonly unsafe struct PrepackedB(float* panels, int paddedRows, int column)
{
    public float* Panels { get; } = panels;
    public int PaddedRows { get; } = paddedRows;
    public int Column { get; } = column;
    public PrepackedB FromColumn(int j0) => Panels == null ? this : new PrepackedB(Panels, PaddedRows, Column + j0);
}

/// <summary>The three entry points by operand layout: C = A·B (NN), A·Bᵀ (NT), Aᵀ·B (TN).</summary>
public enum GemmLayout { NN, NT, TN }

internal enum GemmIsa { Avx2, Avx512 }

/// <summary>A logical matrix operand: element (r, c) is at Ptr[r·RowStride + c·ColStride].</summary>
internal readonly unsafe struct Operand(float* ptr, nint rowStride, nint colStride)
{
    public float* Ptr { get; } = ptr;
    public nint RowStride { get; } = rowStride;
    public nint ColStride { get; } = colStride;
}
