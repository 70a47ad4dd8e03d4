using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.Layers;

// The few vector primitives the layers are built from. Each uses Vector512 where the CPU has it (AVX-512)
// and Vector256 otherwise; the scalar tail handles lengths that are not a multiple of the width.
internal static class Simd
{
    private static readonly bool Wide = Vector512.IsHardwareAccelerated;

    /// <summary>Σ a[i]·b[i].</summary>
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length, i = 0;
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        float sum = 0;
        if (Wide)
        {
            var acc0 = Vector512<float>.Zero; var acc1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                acc0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), acc0);
                acc1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)(i + 16)), Vector512.LoadUnsafe(ref pb, (nuint)(i + 16)), acc1);
            }
            for (; i <= n - 16; i += 16)
                acc0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i), Vector512.LoadUnsafe(ref pb, (nuint)i), acc0);
            sum = Vector512.Sum(acc0 + acc1);
        }
        else
        {
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i), Vector256.LoadUnsafe(ref pb, (nuint)i), acc);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
        return sum;
    }

    /// <summary>y[i] += alpha·x[i].</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (Wide)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(va, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        else
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) += alpha * Unsafe.Add(ref px, i);
    }

    /// <summary>y[i] += x[i].</summary>
    public static void Add(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (Wide)
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref py, (nuint)i) + Vector512.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        else
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref py, i) += Unsafe.Add(ref px, i);
    }

    /// <summary>y[i] = s·x[i]·w[i]  (the normalise-and-scale step of RMSNorm).</summary>
    public static void ScaleMul(ReadOnlySpan<float> x, ReadOnlySpan<float> w, float s, Span<float> y)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pw = ref MemoryMarshal.GetReference(w);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (Wide)
        {
            var vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref px, (nuint)i) * Vector512.LoadUnsafe(ref pw, (nuint)i) * vs).StoreUnsafe(ref py, (nuint)i);
        }
        else
        {
            var vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * Vector256.LoadUnsafe(ref pw, (nuint)i) * vs).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) = s * Unsafe.Add(ref px, i) * Unsafe.Add(ref pw, i);
    }

    /// <summary>y[i] += s·a[i]·b[i].</summary>
    public static void MulAddScaled(ReadOnlySpan<float> a, ReadOnlySpan<float> b, float s, Span<float> y)
    {
        int n = a.Length, i = 0;
        ref float pa = ref MemoryMarshal.GetReference(a);
        ref float pb = ref MemoryMarshal.GetReference(b);
        ref float py = ref MemoryMarshal.GetReference(y);
        if (Wide)
        {
            var vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref pa, (nuint)i) * Vector512.LoadUnsafe(ref pb, (nuint)i), vs,
                    Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        else
        {
            var vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref pa, (nuint)i) * Vector256.LoadUnsafe(ref pb, (nuint)i), vs,
                    Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) += s * Unsafe.Add(ref pa, i) * Unsafe.Add(ref pb, i);
    }

    /// <summary>max over x.</summary>
    public static float Max(ReadOnlySpan<float> x)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        float max = float.NegativeInfinity;
        if (Wide && n >= 16)
        {
            var vm = Vector512.Create(float.NegativeInfinity);
            for (; i <= n - 16; i += 16) vm = Vector512.Max(vm, Vector512.LoadUnsafe(ref px, (nuint)i));
            for (int j = 0; j < 16; j++) max = MathF.Max(max, vm[j]);
        }
        for (; i < n; i++) max = MathF.Max(max, Unsafe.Add(ref px, i));
        return max;
    }

    /// <summary>y[i] = exp(x[i] − shift); returns Σ y[i].</summary>
    public static float ExpShifted(ReadOnlySpan<float> x, float shift, Span<float> y)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        float sum = 0;
        if (Wide)
        {
            var vs = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var e = Vector512.Exp(Vector512.LoadUnsafe(ref px, (nuint)i) - vs);
                e.StoreUnsafe(ref py, (nuint)i);
                acc += e;
            }
            sum = Vector512.Sum(acc);
        }
        else
        {
            var vs = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var e = Vector256.Exp(Vector256.LoadUnsafe(ref px, (nuint)i) - vs);
                e.StoreUnsafe(ref py, (nuint)i);
                acc += e;
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) { float e = MathF.Exp(Unsafe.Add(ref px, i) - shift); Unsafe.Add(ref py, i) = e; sum += e; }
        return sum;
    }

    /// <summary>Σ exp(x[i] − shift), without storing the terms.</summary>
    public static float SumExpShifted(ReadOnlySpan<float> x, float shift)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        float sum = 0;
        if (Wide)
        {
            var vs = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16) acc += Vector512.Exp(Vector512.LoadUnsafe(ref px, (nuint)i) - vs);
            sum = Vector512.Sum(acc);
        }
        else
        {
            var vs = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8) acc += Vector256.Exp(Vector256.LoadUnsafe(ref px, (nuint)i) - vs);
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) sum += MathF.Exp(Unsafe.Add(ref px, i) - shift);
        return sum;
    }

    /// <summary>
    /// Σ exp(x[i] − shift)·(shift − x[i]): with shift = log-sum-exp, the entropy −Σ p·log p as a sum of non-negative
    /// terms (no cancellation between two large numbers).
    /// </summary>
    public static float SoftmaxEntropy(ReadOnlySpan<float> x, float shift)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        float sum = 0;
        if (Wide)
        {
            var vs = Vector512.Create(shift);
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref px, (nuint)i);
                acc = Vector512.FusedMultiplyAdd(Vector512.Exp(v - vs), vs - v, acc);
            }
            sum = Vector512.Sum(acc);
        }
        else
        {
            var vs = Vector256.Create(shift);
            var acc = Vector256<float>.Zero;
            for (; i <= n - 8; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref px, (nuint)i);
                acc = Vector256.FusedMultiplyAdd(Vector256.Exp(v - vs), vs - v, acc);
            }
            sum = Vector256.Sum(acc);
        }
        for (; i < n; i++) { float v = Unsafe.Add(ref px, i); sum += MathF.Exp(v - shift) * (shift - v); }
        return sum;
    }

    /// <summary>x[i] = scale·exp(x[i] − shift)  (turns a row of logits into probabilities, in place).</summary>
    public static void ExpShiftedScaleInPlace(Span<float> x, float shift, float scale)
    {
        int n = x.Length, i = 0;
        ref float px = ref MemoryMarshal.GetReference(x);
        if (Wide)
        {
            var vs = Vector512.Create(shift); var vc = Vector512.Create(scale);
            for (; i <= n - 16; i += 16) (Vector512.Exp(Vector512.LoadUnsafe(ref px, (nuint)i) - vs) * vc).StoreUnsafe(ref px, (nuint)i);
        }
        else
        {
            var vs = Vector256.Create(shift); var vc = Vector256.Create(scale);
            for (; i <= n - 8; i += 8) (Vector256.Exp(Vector256.LoadUnsafe(ref px, (nuint)i) - vs) * vc).StoreUnsafe(ref px, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref px, i) = scale * MathF.Exp(Unsafe.Add(ref px, i) - shift);
    }
}
