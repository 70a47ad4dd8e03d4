using System.IO.Compression;

namespace Rlef.Environment.Problems;

/// <summary>
/// Gzip (RFC 1952) decompression that checks the stream to its end. The framework's GZipStream stops silently when a
/// file is cut at a deflate flush point or loses its 8-byte trailer, so a truncated download would load part of a
/// benchmark; here the last member's trailer (CRC-32 and length of its data, RFC 1952 §2.3.1) is checked against the
/// decompressed bytes. Earlier members of a multi-member file are checked by the inflater itself, which reads their
/// trailers before starting the next member.
/// </summary>
public static class GzipData
{
    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;

    /// <summary>The decompressed bytes of <paramref name="compressed"/>, read from <paramref name="path"/> (named in errors).</summary>
    public static byte[] Decompress(string path, byte[] compressed)
    {
        var output = new MemoryStream(compressed.Length * 4);
        try
        {
            using var gz = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            gz.CopyTo(output);
        }
        catch (InvalidDataException e)
        {
            // zlib reports a bad CRC as "incorrect data check", which .NET words as an unsupported compression method.
            throw new InvalidDataException($"{path}: damaged gzip data (bad CRC-32, bad length or corrupt deflate stream): {e.Message}", e);
        }
        byte[] data = output.ToArray();
        if (compressed.Length < 18) // 10-byte header + at least an empty deflate block + 8-byte trailer
            throw new InvalidDataException($"{path}: truncated gzip file ({compressed.Length} bytes, shorter than a header and a trailer)");
        uint crc = BitConverter.ToUInt32(compressed, compressed.Length - 8);
        uint size = BitConverter.ToUInt32(compressed, compressed.Length - 4);
        // ISIZE is the last member's length mod 2^32; that member's data ends the output.
        if (size > data.Length || Crc32.Compute(data.AsSpan(data.Length - (int)size)) != crc)
            throw new InvalidDataException(
                $"{path}: truncated gzip file: the stream ends before its trailer (the CRC-32 and length in the last 8 bytes do not match " +
                $"the {data.Length} bytes decompressed); the file was cut off or damaged, fetch it again");
        return data;
    }
}

/// <summary>CRC-32 of gzip and zip (ISO-HDLC: reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF).</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in data)
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
