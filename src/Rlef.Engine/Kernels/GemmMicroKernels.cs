using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Rlef.Engine.Kernels;

// Register-blocked inner kernels: C[MR×NR] (+)= Apanel · Bpanel over kc steps, where the packed A panel holds MR
// values per k step and the packed B panel NR values per k step. Every accumulator is a named local so the JIT
// keeps all of them in vector registers (a stackalloc'd or array tile makes it spill them; see measurements.md).
internal static unsafe class GemmMicroKernels
{
    // 8×48 on AVX-512: 24 accumulators + 3 B vectors + 1 broadcast = 28 of the 32 zmm registers. Per k step it
    // issues 24 FMAs against 3 vector loads and 8 broadcasts. 8 and 48 divide the model's shapes (256 tokens,
    // 768/2304/3072 features), so few edge tiles are wasted.
    public const int Mr512 = 8, Nr512 = 48;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel8x48(float* a, float* b, float* c, nint ldc, int kc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default;
        Vector512<float> c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default;
        Vector512<float> c70 = default, c71 = default, c72 = default;
        // Touch the C tile now so its lines arrive while the k loop runs, not when the stores below need them
        // (C rows lie ldc apart and often miss L1/L2 on the wide shapes); + 47 covers a row that starts mid-line.
        for (int r = 0; r < 8; r++)
        {
            Prefetch(c + r * ldc); Prefetch(c + r * ldc + 16); Prefetch(c + r * ldc + 32); Prefetch(c + r * ldc + 47);
        }
        // A pointer bound instead of a counter, and B fetched 8 k steps ahead: with both, the 2-thread figures by CPU
        // time rose from 76-80% to 80-88% of the FMA peak (docs/results.md, 2026-12-07 SGEMM entry).
        float* end = a + (nint)kc * 8;
        while (a < end)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            Vector512<float> x;
            x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01); c02 = Vector512.FusedMultiplyAdd(x, b2, c02);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11); c12 = Vector512.FusedMultiplyAdd(x, b2, c12);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21); c22 = Vector512.FusedMultiplyAdd(x, b2, c22);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31); c32 = Vector512.FusedMultiplyAdd(x, b2, c32);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41); c42 = Vector512.FusedMultiplyAdd(x, b2, c42);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51); c52 = Vector512.FusedMultiplyAdd(x, b2, c52);
            x = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61); c62 = Vector512.FusedMultiplyAdd(x, b2, c62);
            x = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71); c72 = Vector512.FusedMultiplyAdd(x, b2, c72);
            Prefetch(b + 8 * 48);
            a += 8;
            b += 48;
        }

        Store512(c, 0 * ldc, c00, c01, c02, accumulate);
        Store512(c, 1 * ldc, c10, c11, c12, accumulate);
        Store512(c, 2 * ldc, c20, c21, c22, accumulate);
        Store512(c, 3 * ldc, c30, c31, c32, accumulate);
        Store512(c, 4 * ldc, c40, c41, c42, accumulate);
        Store512(c, 5 * ldc, c50, c51, c52, accumulate);
        Store512(c, 6 * ldc, c60, c61, c62, accumulate);
        Store512(c, 7 * ldc, c70, c71, c72, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, nint offset, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool accumulate)
    {
        float* row = c + offset;
        if (accumulate)
        {
            v0 += Vector512.Load(row);
            v1 += Vector512.Load(row + 16);
            v2 += Vector512.Load(row + 32);
        }
        v0.Store(row);
        v1.Store(row + 16);
        v2.Store(row + 32);
    }

    // 6×16 on AVX2 (16 ymm registers): 12 accumulators + 2 B vectors + 1 broadcast.
    public const int Mr256 = 6, Nr256 = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Kernel6x16(float* a, float* b, float* c, nint ldc, int kc, bool accumulate)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int r = 0; r < 6; r++) { Prefetch(c + r * ldc); Prefetch(c + r * ldc + 15); }   // as in Kernel8x48
        float* end = a + (nint)kc * 6;
        while (a < end)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            Vector256<float> x;
            x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            Prefetch(b + 16 * 16);
            a += 6;
            b += 16;
        }

        Store256(c, 0 * ldc, c00, c01, accumulate);
        Store256(c, 1 * ldc, c10, c11, accumulate);
        Store256(c, 2 * ldc, c20, c21, accumulate);
        Store256(c, 3 * ldc, c30, c31, accumulate);
        Store256(c, 4 * ldc, c40, c41, accumulate);
        Store256(c, 5 * ldc, c50, c51, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, nint offset, Vector256<float> v0, Vector256<float> v1, bool accumulate)
    {
        float* row = c + offset;
        if (accumulate)
        {
            v0 += Vector256.Load(row);
            v1 += Vector256.Load(row + 8);
        }
        v0.Store(row);
        v1.Store(row + 8);
    }

    // A hint only: compiled away where SSE does not exist (the Vector kernels also run, slowly, on other CPUs).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* address)
    {
        if (Sse.IsSupported) Sse.Prefetch0(address);
    }
}
