using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Serving.Model;

/// <summary>A request that breaks the protocol or a cap: answered with 400 and this message, which names the field.</summary>
public sealed class BadRequestException(string message) : Exception(message);

/// <summary>Typed reads of request fields, each failure naming the field (the server never guesses).</summary>
public static class RequestFields
{
    public static JsonObject Body(JsonNode? node) =>
        node as JsonObject ?? throw new BadRequestException("the request body must be a JSON object");

    public static async Task<JsonObject> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        try
        {
            return Body(await JsonNode.ParseAsync(body, cancellationToken: cancellationToken));
        }
        catch (JsonException e)
        {
            throw new BadRequestException($"the request body is not valid JSON: {e.Message}");
        }
    }

    static bool Absent(JsonObject o, string name) => !o.TryGetPropertyValue(name, out JsonNode? v) || v is null;

    public static double Number(JsonObject o, string name, double fallback, double min, double max)
    {
        if (Absent(o, name)) return fallback;
        if (o[name] is not JsonValue v || !v.TryGetValue(out double x))
            throw new BadRequestException($"'{name}' must be a number");
        if (!(x >= min && x <= max)) throw new BadRequestException($"'{name}' must be in [{min}, {max}], got {x}");
        return x;
    }

    public static long Integer(JsonObject o, string name, long fallback, long min, long max)
    {
        if (Absent(o, name)) return fallback;
        if (o[name] is not JsonValue v || !v.TryGetValue(out long x))
        {
            // 5.0 is an integer too (some clients send floats).
            if (o[name] is JsonValue d && d.TryGetValue(out double f) && f == Math.Floor(f) && Math.Abs(f) < 1e15) x = (long)f;
            else throw new BadRequestException($"'{name}' must be an integer");
        }
        if (x < min || x > max) throw new BadRequestException($"'{name}' must be in [{min}, {max}], got {x}");
        return x;
    }

    public static bool Flag(JsonObject o, string name, bool fallback)
    {
        if (Absent(o, name)) return fallback;
        if (o[name] is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new BadRequestException($"'{name}' must be true or false");
    }

    public static string? Text(JsonObject o, string name)
    {
        if (Absent(o, name)) return null;
        if (o[name] is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new BadRequestException($"'{name}' must be a string");
    }

    /// <summary>A list of token ids, each in [0, vocab).</summary>
    public static int[] TokenIds(JsonNode? node, string name, int vocabSize)
    {
        if (node is not JsonArray array) throw new BadRequestException($"'{name}' must be a list of token ids");
        var ids = new int[array.Count];
        for (int i = 0; i < ids.Length; i++)
        {
            if (array[i] is not JsonValue v || !v.TryGetValue(out int id))
                throw new BadRequestException($"'{name}'[{i}] must be an integer token id");
            if (id < 0 || id >= vocabSize) throw new BadRequestException($"'{name}'[{i}] = {id} is outside the vocabulary [0, {vocabSize})");
            ids[i] = id;
        }
        return ids;
    }

    /// <summary>`stop`: absent, one string or a list of strings.</summary>
    public static IReadOnlyList<string> Stops(JsonObject o, string name)
    {
        if (Absent(o, name)) return [];
        JsonNode node = o[name]!;
        if (node is JsonValue v && v.TryGetValue(out string? one)) return one.Length == 0 ? [] : [one];
        if (node is JsonArray a)
            return a.Select((s, i) => s is JsonValue sv && sv.TryGetValue(out string? t) && t.Length > 0 ? t
                : throw new BadRequestException($"'{name}'[{i}] must be a non-empty string")).ToList();
        throw new BadRequestException($"'{name}' must be a string or a list of strings");
    }
}
