using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.Kernels;

// Products with very few rows or columns (decoding one token, a scalar value head). They are bound by reading
// the large operand once, so they stream it directly — as row updates (axpy) when B's rows are contiguous, or as
// dot products when B is stored transposed — instead of packing it first.
internal static unsafe class GemmThin
{
    /// <summary>Computes columns [j0, j1) of C (m rows, leading dimension ldc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(Operand a, Operand b, float* c, nint ldc, int m, int j0, int j1, int k, bool accumulate)
    {
        int width = j1 - j0;
        if (b.ColStride == 1)
        {
            for (int i = 0; i < m; i++)
            {
                float* cRow = c + i * ldc + j0;
                if (!accumulate) new Span<float>(cRow, width).Clear();
                for (int p = 0; p < k; p++)
                    Axpy(a.Ptr[i * a.RowStride + p * a.ColStride], b.Ptr + p * b.RowStride + j0, cRow, width);
            }
        }
        else
        {
            for (int j = j0; j < j1; j++)
            {
                float* bCol = b.Ptr + j * b.ColStride;
                for (int i = 0; i < m; i++)
                {
                    float* aRow = a.Ptr + i * a.RowStride;
                    float sum = a.ColStride == 1 && b.RowStride == 1
                        ? Dot(aRow, bCol, k)
                        : StridedDot(aRow, a.ColStride, bCol, b.RowStride, k);
                    float* target = c + i * ldc + j;
                    *target = accumulate ? *target + sum : sum;
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Axpy(float alpha, float* x, float* y, int length)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i + 16 <= length; i += 16)
                Vector512.FusedMultiplyAdd(va, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + 8 <= length; i += 8)
                Vector256.FusedMultiplyAdd(va, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < length; i++) y[i] = MathF.FusedMultiplyAdd(alpha, x[i], y[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(float* x, float* y, int length)
    {
        int i = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && length >= 32)
        {
            Vector512<float> s0 = default, s1 = default;
            for (; i + 32 <= length; i += 32)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(x + i + 16), Vector512.Load(y + i + 16), s1);
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (Vector256.IsHardwareAccelerated && length >= 16)
        {
            Vector256<float> s0 = default, s1 = default;
            for (; i + 16 <= length; i += 16)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(x + i + 8), Vector256.Load(y + i + 8), s1);
            }
            sum = Vector256.Sum(s0 + s1);
        }
        for (; i < length; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float StridedDot(float* x, nint xStride, float* y, nint yStride, int length)
    {
        float sum = 0;
        for (int i = 0; i < length; i++) sum = MathF.FusedMultiplyAdd(x[i * xStride], y[i * yStride], sum);
        return sum;
    }
}
