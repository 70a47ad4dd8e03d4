using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.Layers;

/// <summary>The gated activation of the Llama MLP: h = silu(gate) ⊙ up, silu(g) = g·σ(g).</summary>
public static class SwiGlu
{
    // h[N·I], gate[N·I], up[N·I]
    public static void Forward(float[] h, float[] gate, float[] up, int count)
    {
        Parallelism.ForChunks(count, 8, (start, end) =>
        {
            int i = start;
            ref float pg = ref MemoryMarshal.GetArrayDataReference(gate);
            ref float pu = ref MemoryMarshal.GetArrayDataReference(up);
            ref float ph = ref MemoryMarshal.GetArrayDataReference(h);
            if (Vector512.IsHardwareAccelerated)
                for (; i <= end - 16; i += 16)
                {
                    var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                    var silu = g / (Vector512<float>.One + Vector512.Exp(-g));
                    (silu * Vector512.LoadUnsafe(ref pu, (nuint)i)).StoreUnsafe(ref ph, (nuint)i);
                }
            else if (Vector256.IsHardwareAccelerated) // AVX2: the same expression, 8 lanes (a scalar exp per element was the MLP's cost there)
                for (; i <= end - 8; i += 8)
                {
                    var g = Vector256.LoadUnsafe(ref pg, (nuint)i);
                    var silu = g / (Vector256<float>.One + Vector256.Exp(-g));
                    (silu * Vector256.LoadUnsafe(ref pu, (nuint)i)).StoreUnsafe(ref ph, (nuint)i);
                }
            for (; i < end; i++)
            {
                float g = Unsafe.Add(ref pg, i);
                Unsafe.Add(ref ph, i) = g / (1f + MathF.Exp(-g)) * Unsafe.Add(ref pu, i);
            }
        });
    }

    // dGate = dh·u·σ(g)·(1 + g·(1−σ(g))), dUp = dh·silu(g). Overwrites dGate and dUp; dh may be dUp or dGate itself
    // (each element of dh is read before either is written there).
    public static void Backward(float[] dGate, float[] dUp, float[] dh, float[] gate, float[] up, int count)
    {
        Parallelism.ForChunks(count, 12, (start, end) =>
        {
            int i = start;
            ref float pg = ref MemoryMarshal.GetArrayDataReference(gate);
            ref float pu = ref MemoryMarshal.GetArrayDataReference(up);
            ref float pdh = ref MemoryMarshal.GetArrayDataReference(dh);
            ref float pdg = ref MemoryMarshal.GetArrayDataReference(dGate);
            ref float pdu = ref MemoryMarshal.GetArrayDataReference(dUp);
            if (Vector512.IsHardwareAccelerated)
                for (; i <= end - 16; i += 16)
                {
                    var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                    var d = Vector512.LoadUnsafe(ref pdh, (nuint)i);
                    var sig = Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-g));
                    (d * g * sig).StoreUnsafe(ref pdu, (nuint)i);
                    (d * Vector512.LoadUnsafe(ref pu, (nuint)i) * sig * (Vector512<float>.One + g * (Vector512<float>.One - sig))).StoreUnsafe(ref pdg, (nuint)i);
                }
            else if (Vector256.IsHardwareAccelerated)
                for (; i <= end - 8; i += 8)
                {
                    var g = Vector256.LoadUnsafe(ref pg, (nuint)i);
                    var d = Vector256.LoadUnsafe(ref pdh, (nuint)i);
                    var sig = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-g));
                    (d * g * sig).StoreUnsafe(ref pdu, (nuint)i);
                    (d * Vector256.LoadUnsafe(ref pu, (nuint)i) * sig * (Vector256<float>.One + g * (Vector256<float>.One - sig))).StoreUnsafe(ref pdg, (nuint)i);
                }
            for (; i < end; i++)
            {
                float g = Unsafe.Add(ref pg, i), d = Unsafe.Add(ref pdh, i);
                float sig = 1f / (1f + MathF.Exp(-g));
                Unsafe.Add(ref pdu, i) = d * g * sig;
                Unsafe.Add(ref pdg, i) = d * Unsafe.Add(ref pu, i) * sig * (1f + g * (1f - sig));
            }
        });
    }
}
