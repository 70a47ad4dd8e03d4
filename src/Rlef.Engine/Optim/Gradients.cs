using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Optim;

/// <summary>Whole-model gradient operations over the trainable (not frozen) parameters, vectorised and parallel.</summary>
public static class Gradients
{
    /// <summary>
    /// The L2 norm of all gradients taken together, times <paramref name="scale"/> (pass 1/accumulation steps to get
    /// the norm of the averaged gradient without rescaling it first). Partial sums are added in a fixed order, so the
    /// result does not depend on the thread count.
    /// </summary>
    public static double GlobalNorm(IReadOnlyList<Parameter> parameters, double scale = 1)
    {
        var chunks = ParameterChunk.Split(parameters, p => !p.Frozen);
        var partial = new double[chunks.Length];
        ParameterChunk.ForEach(chunks, (i, c) => partial[i] = SumOfSquares(parameters[c.Parameter].Grad.AsSpan(c.Start, c.Length)));
        double sum = 0;
        foreach (double x in partial) sum += x;
        return Math.Sqrt(sum) * Math.Abs(scale);
    }

    /// <summary>
    /// The factor that brings a gradient of norm <paramref name="norm"/> down to <paramref name="maxNorm"/>: 1 when it
    /// is already within, else maxNorm / (norm + 1e-6) (the small term as in PyTorch's clip_grad_norm_).
    /// </summary>
    public static double ClipFactor(double norm, double maxNorm)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxNorm);
        return norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
    }

    /// <summary>
    /// Scales the gradients in place so their global norm is at most <paramref name="maxNorm"/> and returns the norm
    /// before clipping. A non-finite norm leaves the gradients untouched: the caller should skip that update.
    /// </summary>
    public static double ClipByGlobalNorm(IReadOnlyList<Parameter> parameters, double maxNorm)
    {
        double norm = GlobalNorm(parameters);
        if (double.IsFinite(norm)) Scale(parameters, (float)ClipFactor(norm, maxNorm));
        return norm;
    }

    /// <summary>Multiplies every trainable gradient by <paramref name="factor"/> (no-op for 1).</summary>
    public static void Scale(IReadOnlyList<Parameter> parameters, float factor)
    {
        if (factor == 1f) return;
        var chunks = ParameterChunk.Split(parameters, p => !p.Frozen);
        ParameterChunk.ForEach(chunks, (_, c) =>
        {
            var g = parameters[c.Parameter].Grad.AsSpan(c.Start, c.Length);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var f = Vector512.Create(factor);
                ref float start = ref g[0];
                for (; i + 16 <= g.Length; i += 16)
                    (Vector512.LoadUnsafe(ref start, (nuint)i) * f).StoreUnsafe(ref start, (nuint)i);
            }
            else if (Vector256.IsHardwareAccelerated && g.Length >= 8)
            {
                var f = Vector256.Create(factor);
                ref float start = ref g[0];
                for (; i + 8 <= g.Length; i += 8)
                    (Vector256.LoadUnsafe(ref start, (nuint)i) * f).StoreUnsafe(ref start, (nuint)i);
            }
            for (; i < g.Length; i++) g[i] *= factor;
        });
    }

    /// <summary>Clears every gradient, frozen or not, in parallel (a serial clear of 124M floats is tens of ms).</summary>
    public static void Zero(IReadOnlyList<Parameter> parameters)
    {
        var chunks = ParameterChunk.Split(parameters, _ => true);
        ParameterChunk.ForEach(chunks, (_, c) => parameters[c.Parameter].Grad.AsSpan(c.Start, c.Length).Clear());
    }

    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        int i = 0;
        double sum = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= 32)
        {
            // Float lanes over one chunk (≤ 32K elements) lose little; chunks are added in double.
            Vector512<float> s0 = default, s1 = default;
            ref float start = ref MemoryMarshal.GetReference(x);
            for (; i + 32 <= x.Length; i += 32)
            {
                var a = Vector512.LoadUnsafe(ref start, (nuint)i);
                var b = Vector512.LoadUnsafe(ref start, (nuint)(i + 16));
                s0 = Vector512.FusedMultiplyAdd(a, a, s0);
                s1 = Vector512.FusedMultiplyAdd(b, b, s1);
            }
            sum = Vector512.Sum(Vector512.WidenLower(s0 + s1) + Vector512.WidenUpper(s0 + s1));
        }
        else if (Vector256.IsHardwareAccelerated && x.Length >= 16)
        {
            Vector256<float> s0 = default, s1 = default;
            ref float start = ref MemoryMarshal.GetReference(x);
            for (; i + 16 <= x.Length; i += 16)
            {
                var a = Vector256.LoadUnsafe(ref start, (nuint)i);
                var b = Vector256.LoadUnsafe(ref start, (nuint)(i + 8));
                s0 = Vector256.FusedMultiplyAdd(a, a, s0);
                s1 = Vector256.FusedMultiplyAdd(b, b, s1);
            }
            sum = Vector256.Sum(Vector256.WidenLower(s0 + s1) + Vector256.WidenUpper(s0 + s1));
        }
        for (; i < x.Length; i++) sum += (double)x[i] * x[i];
        return sum;
    }
}
