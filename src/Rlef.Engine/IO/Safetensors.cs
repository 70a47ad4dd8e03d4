using System.Runtime.InteropServices;
using System.Text.Json;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.IO;

/// <summary>One tensor to write: a name, a row-major shape and fp32 values.</summary>
public readonly record struct NamedTensor(string Name, int[] Shape, ReadOnlyMemory<float> Data);

/// <summary>
/// Writes the safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
/// its dtype, shape and [begin, end) byte offsets in the data buffer (plus an optional "__metadata__" string map),
/// then the data buffer, tensors back to back with no holes. The header is padded with spaces to a multiple of
/// 8 bytes so the buffer starts aligned.
/// </summary>
public static class Safetensors
{
    /// <summary>
    /// Writes the parameters' values to <paramref name="path"/>, converted to <paramref name="dtype"/>. The file is
    /// written next to its destination and renamed over it, so a reader never sees a half-written file.
    /// </summary>
    public static void Save(string path, IEnumerable<Parameter> parameters, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Save(path, parameters.Select(p => new NamedTensor(p.Name, p.Shape, p.Data)), dtype, metadata);
    }

    /// <inheritdoc cref="Save(string, IEnumerable{Parameter}, SafetensorsDType, IReadOnlyDictionary{string, string}?)"/>
    public static void Save(string path, IEnumerable<NamedTensor> tensors, SafetensorsDType dtype = SafetensorsDType.F32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (!dtype.IsWritable())
            throw new ArgumentException($"Safetensors.Save: cannot write dtype {dtype}; the engine writes F32, BF16 or F16.", nameof(dtype));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors I/O needs a little-endian machine.");
        var list = tensors.ToList();
        byte[] header = BuildHeader(path, list, dtype, metadata);

        string fullPath = Path.GetFullPath(path);
        string temp = fullPath + $".tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> length = stackalloc byte[8];
                BitConverter.TryWriteBytes(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (var tensor in list) WriteData(stream, tensor.Data.Span, dtype);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    private static byte[] BuildHeader(string path, List<NamedTensor> tensors, SafetensorsDType dtype, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsFile.MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (string.IsNullOrEmpty(tensor.Name) || tensor.Name == SafetensorsFile.MetadataKey)
                    throw new ArgumentException($"Safetensors.Save({path}): invalid tensor name '{tensor.Name}'.");
                if (!names.Add(tensor.Name))
                    throw new ArgumentException($"Safetensors.Save({path}): tensor '{tensor.Name}' appears twice.");
                long count = 1;
                foreach (int d in tensor.Shape)
                {
                    if (d < 0) throw new ArgumentException($"Safetensors.Save({path}): tensor '{tensor.Name}' has a negative dimension.");
                    count *= d;
                }
                if (count != tensor.Data.Length)
                    throw new ArgumentException($"Safetensors.Save({path}): tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}] " +
                        $"({count} elements) but {tensor.Data.Length} values.");
                long bytes = count * dtype.Size();
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", dtype.HeaderName());
                json.WriteStartArray("shape");
                foreach (int d in tensor.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padded = (int)((buffer.Length + 7) / 8 * 8);
        while (buffer.Length < padded) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteData(FileStream stream, ReadOnlySpan<float> data, SafetensorsDType dtype)
    {
        if (dtype == SafetensorsDType.F32)
        {
            stream.Write(MemoryMarshal.AsBytes(data));
            return;
        }
        const int chunk = 1 << 16;
        var buffer = new ushort[Math.Min(chunk, data.Length)];
        for (int start = 0; start < data.Length; start += chunk)
        {
            var source = data.Slice(start, Math.Min(chunk, data.Length - start));
            var target = buffer.AsSpan(0, source.Length);
            if (dtype == SafetensorsDType.BF16) FloatConversions.ToBFloat16(source, target);
            else FloatConversions.ToHalf(source, MemoryMarshal.Cast<ushort, Half>(target));
            stream.Write(MemoryMarshal.AsBytes(target));
        }
    }
}
