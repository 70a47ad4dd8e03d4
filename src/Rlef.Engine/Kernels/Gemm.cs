namespace Rlef.Engine.Kernels;

// Single-precision matrix multiply in the three layouts training needs. All matrices are dense row-major.
// This is the engine's one entry point for matmul: the model calls only these, so the kernel behind them can
// be replaced (packed Vector512 micro-kernel, OpenBLAS) without touching the model.
public static class Gemm
{
    /// <summary>C[m,n] (+)= A[m,k] · B[k,n].</summary>
    public static void NN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
        => Reference(a, b, c, m, n, k, transA: false, transB: false, accumulate);

    /// <summary>C[m,n] (+)= A[m,k] · B[n,k]ᵀ  (forward of a linear layer with weight W[out,in]).</summary>
    public static void NT(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
        => Reference(a, b, c, m, n, k, transA: false, transB: true, accumulate);

    /// <summary>C[m,n] (+)= A[k,m]ᵀ · B[k,n]  (weight gradient: dW = dYᵀ · X).</summary>
    public static void TN(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool accumulate = false)
        => Reference(a, b, c, m, n, k, transA: true, transB: false, accumulate);

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
}
