namespace Rlef.Engine.IO;

/// <summary>
/// Element types of the safetensors format. The engine computes in fp32: it reads F32, BF16, F16 and F64 into
/// fp32 and writes F32, BF16 and F16. The other types are recognised so that a file holding them (e.g. an int64
/// buffer) can still be opened and listed.
/// </summary>
public enum SafetensorsDType
{
    F32, BF16, F16, F64,
    BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F8_E4M3, F8_E5M2,
}

public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 or SafetensorsDType.U64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 or SafetensorsDType.U32 => 4,
        SafetensorsDType.BF16 or SafetensorsDType.F16 or SafetensorsDType.I16 or SafetensorsDType.U16 => 2,
        _ => 1,
    };

    /// <summary>True for the types the engine converts to and from fp32.</summary>
    public static bool IsReadable(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.BF16 or SafetensorsDType.F16 or SafetensorsDType.F64;

    public static bool IsWritable(this SafetensorsDType dtype) =>
        dtype is SafetensorsDType.F32 or SafetensorsDType.BF16 or SafetensorsDType.F16;

    /// <summary>The header spelling ("F32", "BF16", ...), which is the enum name.</summary>
    public static string HeaderName(this SafetensorsDType dtype) => dtype.ToString();

    public static bool TryParse(string text, out SafetensorsDType dtype) => ByName.TryGetValue(text, out dtype);

    private static readonly Dictionary<string, SafetensorsDType> ByName =
        Enum.GetValues<SafetensorsDType>().ToDictionary(d => d.HeaderName(), StringComparer.Ordinal);
}
