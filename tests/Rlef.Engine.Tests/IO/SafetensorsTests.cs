using System.Text;
using Rlef.Engine.IO;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Tests.IO;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-safetensors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Parameter Random(string name, int[] shape, int seed)
    {
        var p = new Parameter(name, shape);
        var random = new Random(seed);
        for (int i = 0; i < p.Length; i++) p.Data[i] = (float)(random.NextDouble() * 2 - 1);
        return p;
    }

    [Fact]
    public void F32FilesReadBackBitExactly()
    {
        var a = Random("model.layers.0.self_attn.q_proj.weight", [7, 5], 1);
        var b = Random("model.norm.weight", [5], 2);
        var scalar = new Parameter("scale", []);
        var empty = new Parameter("empty", [0, 3]);
        // Special values survive a raw copy, NaN payloads included.
        b.Data[0] = float.NaN; b.Data[1] = float.NegativeInfinity; b.Data[2] = -0f; b.Data[3] = float.Epsilon;
        b.Data[4] = BitConverter.UInt32BitsToSingle(0x7FA0_1234);
        scalar.Data[0] = 3.5f;
        string path = Path.Combine(_dir, "w.safetensors");
        Safetensors.Save(path, [a, b, scalar, empty], metadata: new Dictionary<string, string> { ["step"] = "12" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["model.layers.0.self_attn.q_proj.weight", "model.norm.weight", "scale", "empty"], file.Names);
        Assert.Equal("12", file.Metadata["step"]);
        foreach (var p in new[] { a, b, scalar, empty })
        {
            var info = file.GetInfo(p.Name);
            Assert.Equal(SafetensorsDType.F32, info.DType);
            Assert.Equal(p.Shape, info.Shape);
            var read = file.Read(p.Name);
            Assert.Equal(p.Data.Select(BitConverter.SingleToUInt32Bits), read.Select(BitConverter.SingleToUInt32Bits));
        }
        // The header is padded so the data buffer starts 8-byte aligned, and no temporary file is left behind.
        long headerLength = BitConverter.ToInt64(File.ReadAllBytes(path), 0);
        Assert.Equal(0, headerLength % 8);
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData(SafetensorsDType.BF16)]
    [InlineData(SafetensorsDType.F16)]
    public void HalfPrecisionFilesRoundTripRepresentableValues(SafetensorsDType dtype)
    {
        // Values representable in both 16-bit formats: small integers, powers of two, halves, signed zero, infinities.
        float[] values = [0f, -0f, 1f, -2f, 0.5f, 3f, -1.5f, 256f, 0.25f, float.PositiveInfinity, float.NegativeInfinity, 1024f, -0.125f, 7f];
        var p = new Parameter("w", [2, 7]);
        values.CopyTo(p.Data, 0);
        // And a tensor big enough (> 2^18 elements) to take the parallel conversion path, filled with exact values.
        var big = new Parameter("big", [300_001]);
        for (int i = 0; i < big.Length; i++) big.Data[i] = (i % 512) - 256;
        var nan = new Parameter("nan", [1]);
        nan.Data[0] = float.NaN;
        string path = Path.Combine(_dir, $"{dtype}.safetensors");
        Safetensors.Save(path, [p, big, nan], dtype);

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(dtype, file.GetInfo("w").DType);
        Assert.Equal(4L * 2 * 7 / 2, file.GetInfo("w").End - file.GetInfo("w").Begin);
        Assert.Equal(values.Select(BitConverter.SingleToUInt32Bits), file.Read("w").Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(big.Data, file.Read("big"));
        Assert.True(float.IsNaN(file.Read("nan")[0]));
    }

    [Fact]
    public void BFloat16FileRoundsToNearestEven()
    {
        var p = new Parameter("w", [2]);
        p.Data[0] = BitConverter.UInt32BitsToSingle(0x3F81_8000); // tie: rounds up to the even 0x3F82
        p.Data[1] = BitConverter.UInt32BitsToSingle(0x3F80_8000); // tie: rounds down to the even 0x3F80
        string path = Path.Combine(_dir, "rne.safetensors");
        Safetensors.Save(path, [p], SafetensorsDType.BF16);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(new byte[] { 0x82, 0x3F, 0x80, 0x3F }, file.GetBytes("w").ToArray());
    }

    [Fact]
    public void FileLaidOutBySpecificationLoads()
    {
        // Written byte by byte as the format describes it: u64 little-endian header size, a JSON header (keys in
        // any order, no padding, offsets relative to the data buffer), then the buffer. The tensors are not in
        // header order and the F16 tensor follows the BF16 one at an offset that is not 4-byte aligned.
        string header = string.Concat(
            """{"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]},"__metadata__":{"format":"pt","note":"raw"},""",
            """ "a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[2],"data_offsets":[14,18]},""",
            """ "d":{"dtype":"F64","shape":[],"data_offsets":[18,26]}}""");
        var bytes = new List<byte>();
        byte[] headerBytes = Encoding.UTF8.GetBytes(header);
        bytes.AddRange(BitConverter.GetBytes((ulong)headerBytes.Length));
        bytes.AddRange(headerBytes);
        bytes.AddRange(BitConverter.GetBytes(1.5f));
        bytes.AddRange(BitConverter.GetBytes(-2.25f));
        bytes.AddRange([0x80, 0x3F, 0x00, 0xC0, 0x80, 0x7F]); // bf16 1, -2, +inf
        bytes.AddRange([0x00, 0x3C, 0x01, 0x00]);             // fp16 1, 2^-24
        bytes.AddRange(BitConverter.GetBytes(0.1));
        string path = Path.Combine(_dir, "spec.safetensors");
        File.WriteAllBytes(path, bytes.ToArray());

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b", "h", "d"], file.Names);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "raw" }, file.Metadata);
        Assert.Equal([1, 2], file.GetInfo("a").Shape);
        Assert.Equal([1.5f, -2.25f], file.Read("a"));
        Assert.Equal([1f, -2f, float.PositiveInfinity], file.Read("b"));
        Assert.Equal([1f, MathF.Pow(2, -24)], file.Read("h"));
        Assert.Empty(file.GetInfo("d").Shape);
        Assert.Equal([0.1f], file.Read("d"));
    }

    public static TheoryData<string, byte[], string> Malformed()
    {
        static byte[] File(string header, int dataBytes, long? declaredLength = null)
        {
            var h = Encoding.UTF8.GetBytes(header);
            return [.. BitConverter.GetBytes(declaredLength ?? h.Length), .. h, .. new byte[dataBytes]];
        }
        return new()
        {
            { "short", [1, 2, 3], "too short" },
            { "huge header", File("{}", 0, declaredLength: 1L << 40), "header length" },
            { "past end", File("{}", 0, declaredLength: 100), "does not fit" },
            { "not json", File("{nope}", 0), "not valid JSON" },
            { "not object", File("[1]", 0), "does not start with '{'" },
            { "unknown dtype", File("""{"x":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}""", 4), "unknown dtype 'F12'" },
            { "no shape", File("""{"x":{"dtype":"F32","data_offsets":[0,4]}}""", 4), "'shape'" },
            { "bad dim", File("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4), "shape entry 0" },
            { "size mismatch", File("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 4), "expected 8" },
            { "truncated", File("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4), "run past the data buffer" },
            { "overlap", File("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "overlaps" },
            { "hole", File("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "belong to no tensor" },
            { "trailing", File("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8), "trailing bytes" },
            { "duplicate", File("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8), "appears twice" },
            { "metadata type", File("""{"__metadata__":{"n":1}}""", 0), "metadata 'n' must be a string" },
            { "junk after header", File("""{} x""", 0), "unexpected bytes" },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesGiveClearErrors(string name, byte[] content, string expected)
    {
        string path = Path.Combine(_dir, name.Replace(' ', '_') + ".safetensors");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void ReadingChecksNameLengthAndDtype()
    {
        string path = Path.Combine(_dir, "w.safetensors");
        Safetensors.Save(path, [Random("w", [4], 1)]);
        using var file = SafetensorsFile.Open(path);
        Assert.Contains("no tensor named 'v'", Assert.Throws<KeyNotFoundException>(() => file.GetInfo("v")).Message);
        Assert.Contains("has 4 elements", Assert.Throws<ArgumentException>(() => file.ReadInto("w", new float[3])).Message);

        string ints = Path.Combine(_dir, "ints.safetensors");
        byte[] header = Encoding.UTF8.GetBytes("""{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""");
        File.WriteAllBytes(ints, [.. BitConverter.GetBytes((long)header.Length), .. header, .. new byte[8]]);
        using var intFile = SafetensorsFile.Open(ints);
        Assert.Equal(SafetensorsDType.I64, intFile.GetInfo("i").DType);
        Assert.Contains("I64", Assert.Throws<NotSupportedException>(() => intFile.Read("i")).Message);
    }

    [Fact]
    public void SavingRejectsDuplicatesAndWrongLengths()
    {
        string path = Path.Combine(_dir, "bad.safetensors");
        Assert.Contains("appears twice", Assert.Throws<ArgumentException>(() =>
            Safetensors.Save(path, [new Parameter("w", [1]), new Parameter("w", [2])])).Message);
        Assert.Contains("6 elements", Assert.Throws<ArgumentException>(() =>
            Safetensors.Save(path, [new NamedTensor("w", [2, 3], new float[5])])).Message);
        Assert.Throws<ArgumentException>(() => Safetensors.Save(path, [new Parameter("w", [1])], SafetensorsDType.I32));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void SaveReplacesAnOpenFile()
    {
        // Checkpoints are rewritten while an earlier version may still be mapped by a reader.
        string path = Path.Combine(_dir, "w.safetensors");
        var p = Random("w", [3], 1);
        Safetensors.Save(path, [p]);
        using var old = SafetensorsFile.Open(path);
        p.Data[0] = 42;
        Safetensors.Save(path, [p]);
        using var fresh = SafetensorsFile.Open(path);
        Assert.Equal(42, fresh.Read("w")[0]);
        Assert.NotEqual(42, old.Read("w")[0]);
    }
}
