using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using Rlef.Engine.Kernels;

namespace Rlef.Engine.IO;

/// <summary>Where one tensor lies in a safetensors file. Begin and End are byte offsets into the data buffer.</summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, int[] Shape, long Begin, long End)
{
    public long ElementCount => (End - Begin) / DType.Size();
}

/// <summary>
/// A safetensors file opened for reading. The file is memory-mapped: opening parses and checks only the header,
/// and each tensor's bytes are paged in when it is read, straight from the page cache into the destination.
/// Reads may run concurrently; dispose when done.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    public const string MetadataKey = "__metadata__";
    // The format caps the header at 100 MB; a larger length means a corrupt or foreign file.
    private const long MaxHeaderBytes = 100_000_000;

    private readonly Dictionary<string, SafetensorsTensorInfo> _tensors;
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* data,
        Dictionary<string, SafetensorsTensorInfo> tensors, IReadOnlyList<string> names, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _data = data;
        _tensors = tensors;
        Names = names;
        Metadata = metadata;
    }

    public string Path { get; }
    /// <summary>Tensor names in data-buffer order.</summary>
    public IReadOnlyList<string> Names { get; }
    /// <summary>The header's "__metadata__" map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public SafetensorsTensorInfo GetInfo(string name) =>
        _tensors.TryGetValue(name, out var info) ? info
            : throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (the file has {_tensors.Count} tensors).");

    /// <summary>Opens and validates a file: header length, JSON, dtypes, shapes and offsets that tile the data buffer.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors I/O needs a little-endian machine.");
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool pointerAcquired = false;
        try
        {
            long fileLength = stream.Length;
            if (fileLength < 8)
                throw new InvalidDataException($"{path}: {fileLength} bytes, too short for a safetensors file (8-byte header length first).");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            pointerAcquired = true;
            start += view.PointerOffset;

            ulong headerLength = *(ulong*)start;
            if (headerLength > MaxHeaderBytes || (long)headerLength > fileLength - 8)
                throw new InvalidDataException($"{path}: header length {headerLength} does not fit the file ({fileLength} bytes); " +
                    "not a safetensors file, or truncated.");
            var header = new ReadOnlySpan<byte>(start + 8, (int)headerLength);
            long bufferLength = fileLength - 8 - (long)headerLength;
            var (tensors, names, metadata) = ParseHeader(path, header, bufferLength);
            return new SafetensorsFile(path, map, view, start + 8 + (long)headerLength, tensors, names, metadata);
        }
        catch
        {
            if (pointerAcquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafetensorsTensorInfo>, List<string>, Dictionary<string, string>) ParseHeader(
        string path, ReadOnlySpan<byte> header, long bufferLength)
    {
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new InvalidDataException($"{path}: the header does not start with '{{' (not a safetensors file).");
        JsonDocument document;
        try
        {
            // The header must be valid UTF-8 JSON; Utf8JsonReader rejects invalid UTF-8 itself.
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            document = JsonDocument.ParseValue(ref reader);
            // Only spaces may follow the object (writers pad the header to a multiple of 8 bytes).
            foreach (byte b in header[(int)reader.BytesConsumed..])
                if (b != (byte)' ')
                    throw new InvalidDataException($"{path}: unexpected bytes after the JSON header.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: the header is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            bool seenMetadata = false;
            foreach (var property in root.EnumerateObject())
            {
                string name = property.Name;
                if (name == MetadataKey)
                {
                    if (seenMetadata) throw new InvalidDataException($"{path}: '{MetadataKey}' appears twice in the header.");
                    seenMetadata = true;
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"{path}: '{MetadataKey}' must be an object of strings.");
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String)
                            throw new InvalidDataException($"{path}: metadata '{entry.Name}' must be a string, got {entry.Value.ValueKind}.");
                        if (!metadata.TryAdd(entry.Name, entry.Value.GetString()!))
                            throw new InvalidDataException($"{path}: metadata '{entry.Name}' appears twice.");
                    }
                    continue;
                }
                var info = ParseTensor(path, name, property.Value, bufferLength);
                if (!tensors.TryAdd(name, info)) throw new InvalidDataException($"{path}: tensor '{name}' appears twice in the header.");
            }

            // The tensors must tile the data buffer exactly: no overlaps (aliasing) and no holes (hidden bytes).
            var ordered = tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
            long expected = 0;
            foreach (var t in ordered)
            {
                if (t.Begin < expected)
                    throw new InvalidDataException($"{path}: tensor '{t.Name}' (bytes {t.Begin}..{t.End}) overlaps the tensor before it.");
                if (t.Begin > expected)
                    throw new InvalidDataException($"{path}: bytes {expected}..{t.Begin} of the data buffer belong to no tensor (before '{t.Name}').");
                expected = t.End;
            }
            if (expected != bufferLength)
                throw new InvalidDataException($"{path}: the data buffer has {bufferLength} bytes but the tensors cover {expected}" +
                    (expected < bufferLength ? " (trailing bytes)." : "."));
            return (tensors, ordered.Select(t => t.Name).ToList(), metadata);
        }
    }

    private static SafetensorsTensorInfo ParseTensor(string path, string name, JsonElement entry, long bufferLength)
    {
        string where = $"{path}: tensor '{name}'";
        if (entry.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected an object with dtype, shape, data_offsets.");
        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{where}: missing string field 'dtype'.");
        string dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype))
            throw new InvalidDataException($"{where}: unknown dtype '{dtypeName}'.");
        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}: missing array field 'shape'.");
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new InvalidDataException($"{where}: shape entry {i} is not a non-negative 32-bit integer ({d.GetRawText()}).");
            shape[i++] = dim;
            count = checked(count * dim);
        }
        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new InvalidDataException($"{where}: 'data_offsets' must be an array [begin, end].");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw new InvalidDataException($"{where}: invalid data_offsets {offsets.GetRawText()}.");
        if (end > bufferLength)
            throw new InvalidDataException($"{where}: data_offsets {offsets.GetRawText()} run past the data buffer ({bufferLength} bytes); truncated file?");
        if (end - begin != count * dtype.Size())
            throw new InvalidDataException($"{where}: {end - begin} bytes for shape [{string.Join(", ", shape)}] of {dtype}, " +
                $"expected {count * dtype.Size()}.");
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end);
    }

    /// <summary>The tensor's raw little-endian bytes, as stored (valid until the file is disposed).</summary>
    public ReadOnlySpan<byte> GetBytes(string name)
    {
        var info = GetInfo(name);
        long length = info.End - info.Begin;
        if (length > int.MaxValue) throw new InvalidOperationException($"{Path}: tensor '{name}' is {length} bytes, too large for one span.");
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ReadOnlySpan<byte>(_data + info.Begin, (int)length);
    }

    /// <summary>
    /// Converts the tensor to fp32 into <paramref name="destination"/>, whose length must equal its element count.
    /// Large tensors are converted in parallel on the engine threads.
    /// </summary>
    public void ReadInto(string name, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var info = GetInfo(name);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"{Path}: tensor '{name}' has {info.ElementCount} elements (shape [{string.Join(", ", info.Shape)}]), " +
                $"the destination {destination.Length}.");
        if (!info.DType.IsReadable())
            throw new NotSupportedException($"{Path}: tensor '{name}' is {info.DType}; the engine reads only F32, BF16, F16 and F64.");

        byte* source = _data + info.Begin;
        int size = info.DType.Size();
        const int chunk = 1 << 18;
        if (destination.Length <= chunk)
        {
            Convert(info.DType, source, destination);
            return;
        }
        fixed (float* target = destination)
        {
            nint dst = (nint)target, src = (nint)source;
            int length = destination.Length;
            var dtype = info.DType;
            EngineThreads.For((length + chunk - 1) / chunk, c =>
            {
                int start = c * chunk, count = Math.Min(chunk, length - start);
                Convert(dtype, (byte*)src + (long)start * size, new Span<float>((float*)dst + start, count));
            });
        }
    }

    /// <summary>The tensor converted to a new fp32 array.</summary>
    public float[] Read(string name)
    {
        var result = new float[checked((int)GetInfo(name).ElementCount)];
        ReadInto(name, result);
        return result;
    }

    private static void Convert(SafetensorsDType dtype, byte* source, Span<float> destination)
    {
        switch (dtype)
        {
            case SafetensorsDType.F32:
                new ReadOnlySpan<float>(source, destination.Length).CopyTo(destination);
                break;
            case SafetensorsDType.BF16:
                FloatConversions.FromBFloat16(source, destination);
                break;
            case SafetensorsDType.F16:
                FloatConversions.FromHalf(source, destination);
                break;
            case SafetensorsDType.F64:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)((double*)source)[i];
                break;
            default:
                throw new NotSupportedException($"dtype {dtype} has no fp32 conversion.");
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    /// <summary>For error messages: a short description of the header.</summary>
    public override string ToString()
    {
        var text = new StringBuilder($"{Path}: {Names.Count} tensors");
        if (Metadata.Count > 0) text.Append($", metadata {{{string.Join(", ", Metadata.Select(kv => $"{kv.Key}={kv.Value}"))}}}");
        return text.ToString();
    }
}
