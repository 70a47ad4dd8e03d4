using System.Runtime.InteropServices;
using Rlef.Engine.IO;

namespace Rlef.Engine.Tests.IO;

public class FloatConversionsTests
{
    [Fact]
    public void EveryBFloat16PatternRoundTrips()
    {
        var patterns = new ushort[65536];
        for (int i = 0; i < patterns.Length; i++) patterns[i] = (ushort)i;
        var floats = new float[patterns.Length];
        FloatConversions.FromBFloat16(patterns, floats);
        var back = new ushort[patterns.Length];
        FloatConversions.ToBFloat16(floats, back);
        for (int i = 0; i < patterns.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits(floats[i]), (uint)i << 16);
            bool nan = (i & 0x7FFF) > 0x7F80;
            // A signalling NaN comes back quiet, with its sign and payload; every other value comes back unchanged.
            Assert.True(back[i] == (nan ? i | 0x40 : i), $"bf16 0x{i:X4} came back as 0x{back[i]:X4}");
        }
    }

    [Theory]
    [InlineData(0x3F80_8000u, 0x3F80)] // exactly halfway, lower neighbour even: round down
    [InlineData(0x3F81_8000u, 0x3F82)] // exactly halfway, lower neighbour odd: round up to even
    [InlineData(0x3F80_8001u, 0x3F81)] // just above halfway
    [InlineData(0x3F80_7FFFu, 0x3F80)] // just below halfway
    [InlineData(0xBF81_8000u, 0xBF82)] // negative tie
    [InlineData(0x7F7F_FFFFu, 0x7F80)] // largest float rounds to infinity
    [InlineData(0x7F80_0000u, 0x7F80)] // +inf
    [InlineData(0xFF80_0000u, 0xFF80)] // -inf
    [InlineData(0x0000_8000u, 0x0000)] // subnormal tie to even (zero)
    [InlineData(0x0001_8000u, 0x0002)] // subnormal tie to even (up)
    [InlineData(0x0001_0000u, 0x0001)] // smallest bf16 subnormal
    [InlineData(0x8000_0000u, 0x8000)] // -0
    [InlineData(0x7F80_0001u, 0x7FC0)] // NaN with a low payload stays NaN (not infinity)
    [InlineData(0xFFC1_2345u, 0xFFC1)] // quiet NaN keeps sign and top payload
    public void BFloat16RoundsToNearestEven(uint floatBits, int expected)
    {
        float value = BitConverter.UInt32BitsToSingle(floatBits);
        Assert.Equal((ushort)expected, FloatConversions.ToBFloat16(value));
        // The vector path (32 at a time) agrees with the scalar one.
        var source = Enumerable.Repeat(value, 40).ToArray();
        var target = new ushort[40];
        FloatConversions.ToBFloat16(source, target);
        Assert.All(target, x => Assert.Equal((ushort)expected, x));
    }

    [Fact]
    public void VectorAndScalarBFloat16PathsAgreeOnRandomBits()
    {
        var random = new Random(3);
        var source = new float[1000];
        for (int i = 0; i < source.Length; i++) source[i] = BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32));
        var vector = new ushort[source.Length];
        FloatConversions.ToBFloat16(source, vector);
        for (int i = 0; i < source.Length; i++) Assert.Equal(FloatConversions.ToBFloat16(source[i]), vector[i]);
    }

    [Fact]
    public void EveryHalfPatternRoundTrips()
    {
        var patterns = new ushort[65536];
        for (int i = 0; i < patterns.Length; i++) patterns[i] = (ushort)i;
        var floats = new float[patterns.Length];
        FloatConversions.FromHalf(MemoryMarshal.Cast<ushort, Half>(patterns), floats);
        var back = new Half[patterns.Length];
        FloatConversions.ToHalf(floats, back);
        for (int i = 0; i < patterns.Length; i++)
        {
            bool nan = (i & 0x7FFF) > 0x7C00;
            Assert.Equal(nan, float.IsNaN(floats[i]));
            ushort bits = BitConverter.HalfToUInt16Bits(back[i]);
            if (nan) Assert.True(Half.IsNaN(back[i]) && (bits & 0x8000) == (i & 0x8000), $"fp16 NaN 0x{i:X4} came back as 0x{bits:X4}");
            else Assert.True(bits == i, $"fp16 0x{i:X4} came back as 0x{bits:X4}");
        }
        // Subnormals widen exactly: the smallest is 2^-24.
        Assert.Equal(MathF.Pow(2, -24), floats[1]);
    }

    [Theory]
    [InlineData(1f + 1f / 2048, 0x3C00)]       // tie between 1 and 1+2^-10: even (1)
    [InlineData(1f + 3f / 2048, 0x3C02)]       // tie between 1+2^-10 and 1+2^-9: even (up)
    [InlineData(65520f, 0x7C00)]               // halfway past the largest fp16 (65504): infinity
    [InlineData(65519f, 0x7BFF)]
    [InlineData(5.9604645e-8f, 0x0001)]        // 2^-24, the smallest subnormal
    [InlineData(2.9802322e-8f, 0x0000)]        // 2^-25: tie to even (zero)
    public void HalfRoundsToNearestEven(float value, int expected)
    {
        var target = new Half[20];
        FloatConversions.ToHalf(Enumerable.Repeat(value, 20).ToArray(), target);
        Assert.All(target, h => Assert.Equal((ushort)expected, BitConverter.HalfToUInt16Bits(h)));
    }
}
