using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Rlef.Environment.Problems;

/// <summary>A malformed data file: the message names the file, the line (record) and the field.</summary>
public sealed class DatasetFormatException(string path, int line, string? field, string problem)
    : Exception($"{path}:{line}: {(field is null ? "" : $"field '{field}': ")}{problem}")
{
    public string Path { get; } = path;
    public int Line { get; } = line;
    public string? Field { get; } = field;
}

/// <summary>
/// One JSON record of a data file and where it came from (for error messages): the line, or for parquet the 1-based
/// row with <paramref name="Location"/> naming its row group and row in the group.
/// </summary>
public readonly record struct DataRecord(string Path, int Line, JsonElement Json, string? Location = null)
{
    public DatasetFormatException Error(string? field, string problem) => new(Path, Line, field, Location is null ? problem : $"{Location}: {problem}");

    public JsonElement Required(string field, JsonValueKind kind)
    {
        if (!Json.TryGetProperty(field, out var value))
            throw Error(field, "missing");
        if (value.ValueKind != kind)
            throw Error(field, $"expected {Describe(kind)}, found {Describe(value.ValueKind)}");
        return value;
    }

    public string RequiredString(string field) => Required(field, JsonValueKind.String).GetString()!;

    public string? OptionalString(string field) =>
        Json.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A field that some exports store as a JSON string holding JSON (evalplus' base_input, atol).</summary>
    public JsonElement JsonOrEmbedded(string field)
    {
        if (!Json.TryGetProperty(field, out var value))
            throw Error(field, "missing");
        if (value.ValueKind != JsonValueKind.String)
            return value;
        string text = value.GetString()!;
        try { return JsonDocument.Parse(text, ReadOptions).RootElement.Clone(); }
        catch (JsonException e)
        {
            try { return JsonDocument.Parse(PythonJson.ProtectNonFinite(text), ReadOptions).RootElement.Clone(); }
            catch (JsonException) { throw Error(field, $"not valid JSON: {e.Message}"); }
        }
    }

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    internal static readonly JsonDocumentOptions ReadOptions = new() { MaxDepth = 256 };
}

/// <summary>
/// Python's json module reads and writes the non-standard literals NaN, Infinity and -Infinity. To parse such records
/// with System.Text.Json they are turned into sentinel strings, and turned back when the raw JSON goes to Python.
/// </summary>
public static class PythonJson
{
    private const string Sentinel = "\\u0000rlef:";

    public static string ProtectNonFinite(string json)
    {
        var sb = new StringBuilder(json.Length + 16);
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (c == '"')
            {
                int j = i + 1;
                while (j < json.Length && json[j] != '"') j += json[j] == '\\' ? 2 : 1;
                sb.Append(json, i, Math.Min(j + 1, json.Length) - i);
                i = j;
                continue;
            }
            string? literal = Match(json, i, "-Infinity") ?? Match(json, i, "Infinity") ?? Match(json, i, "NaN");
            if (literal is not null)
            {
                sb.Append('"').Append(Sentinel).Append(literal).Append('"');
                i += literal.Length - 1;
                continue;
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Raw JSON text (from GetRawText) with the sentinels turned back into Python's literals.</summary>
    public static string RestoreNonFinite(string rawJson) =>
        !rawJson.Contains("rlef:", StringComparison.Ordinal) ? rawJson : rawJson
            .Replace("\"" + Sentinel + "-Infinity\"", "-Infinity")
            .Replace("\"" + Sentinel + "Infinity\"", "Infinity")
            .Replace("\"" + Sentinel + "NaN\"", "NaN");

    private static string? Match(string s, int i, string literal) =>
        string.CompareOrdinal(s, i, literal, 0, literal.Length) == 0 ? literal : null;
}

/// <summary>Reads benchmark files: JSON Lines or one JSON array, gzip-compressed or not, or parquet (decided by content).</summary>
public static class DataFile
{
    public static IEnumerable<DataRecord> ReadRecords(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"data file not found: {path}", path);
        return Datasets.ParquetRows.IsParquet(path) ? Datasets.ParquetRows.Read(path) : ReadJson(path);
    }

    /// <summary>
    /// JSON Lines are read line by line (a release file can be larger than a .NET string may be); a file whose
    /// first character is '[' is one JSON array (small files such as sanitized-mbpp.json) and is parsed whole.
    /// </summary>
    private static IEnumerable<DataRecord> ReadJson(string path)
    {
        using var reader = OpenText(path);
        int lineNumber = 0;
        string? line = reader.ReadLine();
        var leading = new StringBuilder();
        while (line is not null && string.IsNullOrWhiteSpace(line))
        {
            leading.Append(line).Append('\n');
            lineNumber++;
            line = reader.ReadLine();
        }
        if (line is not null && line.TrimStart().StartsWith('['))
        {
            foreach (var record in ReadArray(path, leading.Append(line).Append('\n').Append(reader.ReadToEnd()).ToString()))
                yield return record;
            yield break;
        }
        for (; line != null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            JsonElement element;
            try { element = JsonDocument.Parse(line, DataRecord.ReadOptions).RootElement.Clone(); }
            catch (JsonException e)
            {
                // Python's json writes NaN/Infinity (evalplus inputs do); System.Text.Json refuses them.
                try { element = JsonDocument.Parse(PythonJson.ProtectNonFinite(line), DataRecord.ReadOptions).RootElement.Clone(); }
                catch (JsonException) { throw new DatasetFormatException(path, lineNumber, null, $"invalid JSON: {e.Message}"); }
            }
            if (element.ValueKind != JsonValueKind.Object)
                throw new DatasetFormatException(path, lineNumber, null, "a record must be a JSON object");
            yield return new DataRecord(path, lineNumber, element);
        }
    }

    /// <summary>One JSON array: records are numbered by their index, 1-based; JSON syntax errors carry the real line.</summary>
    private static IEnumerable<DataRecord> ReadArray(string path, string text)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, DataRecord.ReadOptions); }
        catch (JsonException e) { throw new DatasetFormatException(path, (int)(e.LineNumber ?? 0) + 1, null, $"invalid JSON: {e.Message}"); }
        int index = 0;
        foreach (var element in doc.RootElement.EnumerateArray())
        {
            index++;
            if (element.ValueKind != JsonValueKind.Object)
                throw new DatasetFormatException(path, index, null, $"array element {index} is not an object");
            yield return new DataRecord(path, index, element.Clone());
        }
    }

    /// <summary>
    /// The file as text. A gzip file is decompressed whole and checked to its trailer (<see cref="GzipData"/>), so a
    /// file cut short is refused rather than read in part; a plain file is streamed.
    /// </summary>
    private static StreamReader OpenText(string path)
    {
        var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        Stream stream = file;
        if (read == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            byte[] bytes;
            using (file) bytes = File.ReadAllBytes(path);
            stream = new MemoryStream(GzipData.Decompress(path, bytes));
        }
        return new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    /// <summary>The file's text; a gzip file is decompressed and checked to its trailer (<see cref="GzipData"/>).</summary>
    public static string ReadAllText(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (GzipData.IsGzip(bytes))
            bytes = GzipData.Decompress(path, bytes);
        var text = bytes.AsSpan();
        if (text.StartsWith(Encoding.UTF8.Preamble))
            text = text[Encoding.UTF8.Preamble.Length..];
        return Encoding.UTF8.GetString(text);
    }

    /// <summary>
    /// One problem per record, in file order. Task ids must be unique within a file: two different records under one
    /// id would share the resume key of their rollouts, so that is refused here, naming both lines. A record that
    /// repeats an earlier one byte for byte (MapCoder's APPS selection lists 21 problems twice) is the same problem:
    /// it is kept once and said in <paramref name="notes"/> (one line per repeat).
    /// </summary>
    public static IReadOnlyList<Problem> ReadProblems(string path, Func<DataRecord, Problem> build, ICollection<string>? notes = null)
    {
        var problems = new List<Problem>();
        var first = new Dictionary<string, (int Line, string Raw)>(StringComparer.Ordinal);
        foreach (var record in ReadRecords(path))
        {
            var problem = build(record);
            string raw = record.Json.GetRawText();
            if (first.TryGetValue(problem.Id, out var earlier))
            {
                if (earlier.Raw != raw)
                    throw record.Error(null, $"duplicate task id '{problem.Id}': line {earlier.Line} has it too, with other content (task ids must be unique in a file)");
                notes?.Add($"{path}:{record.Line}: task '{problem.Id}' repeats line {earlier.Line} exactly; evaluated once");
                continue;
            }
            first[problem.Id] = (record.Line, raw);
            problems.Add(problem);
        }
        return problems;
    }

    /// <summary>SHA-256 of the file's bytes as lower-case hex: the key of caches derived from the file.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
