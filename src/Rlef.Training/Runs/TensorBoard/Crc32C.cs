using System.Buffers.Binary;
using System.Numerics;

namespace Rlef.Training.Runs.TensorBoard;

/// <summary>CRC-32C (Castagnoli), the checksum of TFRecord files, and TensorFlow's "masked" form of it.</summary>
public static class Crc32C
{
    /// <summary>The standard CRC-32C of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF).</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        // BitOperations.Crc32C is the raw update step (hardware CRC32 instruction where available).
        uint crc = 0xFFFFFFFFu;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return ~crc;
    }

    /// <summary>TFRecord stores rotate_right(crc, 15) + 0xa282ead8 so that CRCs of data holding CRCs stay useful.</summary>
    public static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
    }
}
