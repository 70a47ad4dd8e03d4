using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Datasets;

/// <summary>
/// Hugging Face's parquet files as the JSON records the loaders read: one JSON object per row, shaped by the file's
/// schema (structs → objects, lists → arrays), so a parquet export and a JSON export of the same dataset load alike.
/// Read one row group at a time; a value that has no JSON form is an error naming the file, row group, row and field.
/// </summary>
public static class ParquetRows
{
    /// <summary>Parquet files start and end with these four bytes.</summary>
    public static bool IsParquet(string path)
    {
        using var stream = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[4];
        return stream.Read(magic) == 4 && magic.SequenceEqual("PAR1"u8);
    }

    /// <summary>Every row as a JSON object, numbered from 1 across row groups (the error messages' "record").</summary>
    public static IEnumerable<DataRecord> Read(string path)
    {
        using var stream = File.OpenRead(path);
        ParquetSchema schema;
        int groups;
        try { (schema, groups) = Layout(stream).GetAwaiter().GetResult(); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new DatasetFormatException(path, 0, null, $"not a readable parquet file: {e.Message}");
        }
        int record = 0;
        for (int group = 0; group < groups; group++)
        {
            stream.Position = 0;
            var rows = ParquetSerializer.DeserializeUntypedAsync(stream, null, group).GetAwaiter().GetResult().Data;
            for (int row = 0; row < rows.Count; row++)
            {
                record++;
                var where = new Where(path, record, group, row);
                yield return new DataRecord(path, record, ToJson(schema, rows[row], where), $"row group {group}, row {row}");
            }
        }
    }

    private static async Task<(ParquetSchema Schema, int RowGroups)> Layout(Stream stream)
    {
        await using var reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true);
        return (reader.Schema, reader.RowGroupCount);
    }

    /// <summary>Writes the rows as JSON Lines (atomically: a .tmp file renamed at the end). Returns the row count.</summary>
    public static int Convert(string parquetPath, string jsonlPath)
    {
        string temporary = jsonlPath + ".tmp";
        int count = 0;
        using (var output = new StreamWriter(temporary, append: false, new UTF8Encoding(false)))
        {
            output.NewLine = "\n";
            foreach (var record in Read(parquetPath))
            {
                output.WriteLine(record.Json.GetRawText());
                count++;
            }
        }
        File.Move(temporary, jsonlPath, overwrite: true);
        return count;
    }

    private readonly record struct Where(string Path, int Record, int Group, int Row)
    {
        public DatasetFormatException Error(string field, string problem) =>
            new(Path, Record, field, $"row group {Group}, row {Row}: {problem}");
    }

    private static JsonElement ToJson(ParquetSchema schema, IDictionary<string, object> row, Where where)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.WriterOptions(indented: false)))
        {
            json.WriteStartObject();
            foreach (var field in schema.Fields)
            {
                json.WritePropertyName(field.Name);
                Write(json, field, row.TryGetValue(field.Name, out var v) ? v : null, field.Name, where);
            }
            json.WriteEndObject();
        }
        // Python's NaN/Infinity are written as the literals Python's json module writes; DataFile reads those.
        string text = Encoding.UTF8.GetString(buffer.WrittenSpan);
        try { return JsonDocument.Parse(text, DataRecord.ReadOptions).RootElement.Clone(); }
        catch (JsonException) { return JsonDocument.Parse(PythonJson.ProtectNonFinite(text), DataRecord.ReadOptions).RootElement.Clone(); }
    }

    /// <summary>
    /// A value by its schema field. Parquet.Net leaves out of a row what is null or an empty list, so a missing
    /// list is written [] and any other missing value null (the datasets read here have no null lists).
    /// </summary>
    private static void Write(Utf8JsonWriter json, Field field, object? value, string name, Where where)
    {
        switch (field)
        {
            case StructField s:
                if (value is null) { json.WriteNullValue(); return; }
                if (value is not IDictionary<string, object> members)
                    throw where.Error(name, $"expected a struct, found {value.GetType().Name}");
                json.WriteStartObject();
                foreach (var child in s.Fields)
                {
                    json.WritePropertyName(child.Name);
                    Write(json, child, members.TryGetValue(child.Name, out var v) ? v : null, name + "." + child.Name, where);
                }
                json.WriteEndObject();
                return;
            case ListField l:
                json.WriteStartArray();
                if (value is not null)
                {
                    if (value is string or not IEnumerable)
                        throw where.Error(name, $"expected a list, found {value.GetType().Name}");
                    int i = 0;
                    foreach (var item in (IEnumerable)value)
                        Write(json, l.Item, item, $"{name}[{i++}]", where);
                }
                json.WriteEndArray();
                return;
            case MapField m:
                if (value is null) { json.WriteNullValue(); return; }
                if (value is not IDictionary map)
                    throw where.Error(name, $"expected a map, found {value.GetType().Name}");
                json.WriteStartObject();
                foreach (DictionaryEntry entry in map)
                {
                    string key = Scalar(entry.Key) is { } k ? k : throw where.Error(name, "a map key that is not text or a number");
                    json.WritePropertyName(key);
                    Write(json, m.Value, entry.Value, $"{name}[{key}]", where);
                }
                json.WriteEndObject();
                return;
            default:
                WriteScalar(json, value, name, where);
                return;
        }
    }

    private static void WriteScalar(Utf8JsonWriter json, object? value, string name, Where where)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case ReadOnlyMemory<char> chars: json.WriteStringValue(chars.Span); break;
            case bool b: json.WriteBooleanValue(b); break;
            case sbyte or byte or short or ushort or int or uint or long:
                json.WriteNumberValue(System.Convert.ToInt64(value, CultureInfo.InvariantCulture)); break;
            case ulong u: json.WriteNumberValue(u); break;
            case decimal d: json.WriteNumberValue(d); break;
            case float or double:
                double x = System.Convert.ToDouble(value, CultureInfo.InvariantCulture);
                if (double.IsFinite(x)) json.WriteNumberValue(x);
                else json.WriteRawValue(double.IsNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity", skipInputValidation: true);
                break;
            case DateTime t: json.WriteStringValue(t.ToString("O", CultureInfo.InvariantCulture)); break;
            case DateTimeOffset t: json.WriteStringValue(t.ToString("O", CultureInfo.InvariantCulture)); break;
            case TimeSpan t: json.WriteStringValue(t.ToString("c", CultureInfo.InvariantCulture)); break;
            case Guid g: json.WriteStringValue(g.ToString()); break;
            case byte[] bytes: json.WriteBase64StringValue(bytes); break;
            case ReadOnlyMemory<byte> bytes: json.WriteBase64StringValue(bytes.Span); break;
            default: throw where.Error(name, $"a {value.GetType().Name} value has no JSON form");
        }
    }

    private static string? Scalar(object? key) => key switch
    {
        string s => s,
        ReadOnlyMemory<char> chars => chars.ToString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => null,
    };
}
