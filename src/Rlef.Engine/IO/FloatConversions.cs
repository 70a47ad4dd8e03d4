using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Rlef.Engine.IO;

/// <summary>
/// fp32 to and from the 16-bit storage formats. bfloat16 is the top half of an fp32 bit pattern, so widening is a
/// shift and narrowing rounds to nearest, ties to even, on the dropped 16 bits. NaN stays NaN (quietened, sign and
/// top payload bits kept) instead of rounding into infinity. fp16 uses the runtime's correctly rounded conversion.
/// </summary>
public static unsafe class FloatConversions
{
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    /// <summary>destination[i] = bf16(source[i]).</summary>
    public static void ToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("ToBFloat16: destination is shorter than source.");
        int n = source.Length, i = 0;
        fixed (float* src = source)
        fixed (ushort* dst = destination)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 32 <= n; i += 32)
                {
                    var lo = NarrowBits(Vector512.Load((uint*)src + i));
                    var hi = NarrowBits(Vector512.Load((uint*)src + i + 16));
                    Vector512.Narrow(lo, hi).Store(dst + i);
                }
            }
            for (; i < n; i++) dst[i] = ToBFloat16(src[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> NarrowBits(Vector512<uint> bits)
    {
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512.Create(1u))) >> 16;
        var quietNaN = (bits >> 16) | Vector512.Create(0x0040u);
        var isNaN = Vector512.GreaterThan(bits & Vector512.Create(0x7FFF_FFFFu), Vector512.Create(0x7F80_0000u));
        return Vector512.ConditionalSelect(isNaN, quietNaN, rounded);
    }

    /// <summary>destination[i] = fp32(source[i]) for bf16 bit patterns.</summary>
    public static void FromBFloat16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("FromBFloat16: destination is shorter than source.");
        fixed (ushort* src = source) FromBFloat16((byte*)src, destination[..source.Length]);
    }

    /// <summary>destination[i] = fp32(source[i]) for fp16 values.</summary>
    public static void FromHalf(ReadOnlySpan<Half> source, Span<float> destination) => TensorPrimitives.ConvertToSingle(source, destination);

    /// <summary>destination[i] = fp32 of the bf16 bit pattern i at <paramref name="source"/> (unaligned allowed).</summary>
    internal static void FromBFloat16(byte* source, Span<float> destination)
    {
        int n = destination.Length, i = 0;
        fixed (float* dst = destination)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i + 32 <= n; i += 32)
                {
                    var v = Vector512.Load((ushort*)source + i);
                    (Vector512.WidenLower(v) << 16).Store((uint*)dst + i);
                    (Vector512.WidenUpper(v) << 16).Store((uint*)dst + i + 16);
                }
            }
            for (; i < n; i++) dst[i] = FromBFloat16(Unsafe.ReadUnaligned<ushort>(source + 2 * i));
        }
    }

    public static void ToHalf(ReadOnlySpan<float> source, Span<Half> destination) => TensorPrimitives.ConvertToHalf(source, destination);

    /// <summary>destination[i] = fp32 of the fp16 value i at <paramref name="source"/> (unaligned allowed).</summary>
    internal static void FromHalf(byte* source, Span<float> destination) =>
        TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(source, destination.Length), destination);
}
