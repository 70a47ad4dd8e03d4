using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using Rlef.Environment;

namespace Rlef.Training.Config;

/// <summary>A configuration that cannot be used; the message names the key and where it came from.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Loads an <see cref="RlefConfig"/> from a JSON or YAML file plus command-line overrides (`ppo.clip_epsilon=0.1`),
/// rejecting unknown keys, and writes the effective config back as JSON.
/// </summary>
/// <remarks>
/// Both formats are first turned into one JSON tree, the overrides are applied to that tree, and every key is
/// checked against the record types before deserialising, so a typo is reported as such (with file and line)
/// instead of being silently ignored.
/// </remarks>
public static class ConfigLoader
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
        WriteIndented = true,
        Encoder = ReadableJson.Encoder,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Defaults, then <paramref name="path"/> (if any), then the overrides in order; validated.</summary>
    public static RlefConfig Load(string? path, IEnumerable<string>? overrides = null)
    {
        var origins = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonObject root = path is null ? new JsonObject() : ReadFile(path, origins);
        foreach (string assignment in overrides ?? [])
            ApplyOverride(root, assignment, origins);

        CheckKeys(root, typeof(RlefConfig), "", origins, path);

        RlefConfig config;
        try
        {
            config = root.Deserialize<RlefConfig>(JsonOptions) ?? new RlefConfig();
        }
        catch (JsonException e)
        {
            string key = JsonPathToKey(e.Path);
            throw new ConfigException($"bad value for '{key}' ({Origin(key, origins, path)}): {e.Message}");
        }

        CheckNoNulls(config, "", origins, path);
        IReadOnlyList<string> errors = config.Validate();
        if (errors.Count > 0)
            throw new ConfigException($"invalid config{(path is null ? "" : $" '{path}'")}:\n  " + string.Join("\n  ", errors));
        return config;
    }

    /// <summary>
    /// A key given no value (`data.valid=` or `valid:` in YAML) reads as null, which a non-nullable setting cannot
    /// hold: refused naming the key, rather than failing later where the setting is used.
    /// </summary>
    static void CheckNoNulls(object section, string prefix, Dictionary<string, string> origins, string? path)
    {
        var nullability = new NullabilityInfoContext();
        foreach (PropertyInfo property in section.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            string key = prefix + JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            object? value = property.GetValue(section);
            if (value is null && !property.PropertyType.IsValueType && nullability.Create(property).WriteState != NullabilityState.Nullable)
                throw new ConfigException($"'{key}' ({Origin(key, origins, path)}) has no value; give one (\"\" for empty text) or leave the key out");
            if (value is not null && IsSection(property.PropertyType))
                CheckNoNulls(value, key + ".", origins, path);
        }
    }

    /// <summary>The config as indented JSON with the same keys the loader reads.</summary>
    public static string ToJson(RlefConfig config) => JsonSerializer.Serialize(config, JsonOptions);

    /// <summary>Writes the effective config of a run (the file a later run or `--resume` reads back).</summary>
    public static void WriteEffective(RlefConfig config, string path) => File.WriteAllText(path, ToJson(config) + "\n");

    /// <summary>
    /// The keys (`sft.learning_rate`) whose values differ between two configs, each with both values as JSON, in the
    /// order of the config's sections: what a resumed run names when it is given a config other than its own.
    /// </summary>
    public static IReadOnlyList<(string Key, string Left, string Right)> Differences(RlefConfig left, RlefConfig right)
    {
        var a = Flatten(JsonNode.Parse(ToJson(left)), "");
        var b = Flatten(JsonNode.Parse(ToJson(right)), "");
        var differences = new List<(string, string, string)>();
        foreach (string key in a.Keys.Concat(b.Keys.Where(k => !a.ContainsKey(k))))
        {
            string x = a.GetValueOrDefault(key, "(unset)"), y = b.GetValueOrDefault(key, "(unset)");
            if (x != y) differences.Add((key, x, y));
        }
        return differences;
    }

    static Dictionary<string, string> Flatten(JsonNode? node, string prefix)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is JsonObject obj)
            foreach (var (name, child) in obj)
                foreach (var (key, value) in Flatten(child, prefix.Length == 0 ? name : $"{prefix}.{name}"))
                    values[key] = value;
        else
            values[prefix] = node?.ToJsonString() ?? "null";
        return values;
    }

    // ---- reading files into one JSON tree ----

    static JsonObject ReadFile(string path, Dictionary<string, string> origins)
    {
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}");
        string text = File.ReadAllText(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".json" => ReadJson(text, path),
            ".yaml" or ".yml" => ReadYaml(text, path, origins),
            _ => throw new ConfigException($"config file '{path}': unknown extension '{extension}' (use .json, .yaml or .yml)"),
        };
    }

    static JsonObject ReadJson(string text, string path)
    {
        try
        {
            var node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            return node as JsonObject ?? throw new ConfigException($"config file '{path}': the top level must be an object");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"config file '{path}' line {e.LineNumber + 1}: {e.Message}");
        }
    }

    static JsonObject ReadYaml(string text, string path, Dictionary<string, string> origins)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException($"config file '{path}' line {e.Start.Line}: {e.Message}");
        }
        if (stream.Documents.Count == 0) return new JsonObject();
        if (stream.Documents.Count > 1) throw new ConfigException($"config file '{path}': holds {stream.Documents.Count} YAML documents, expected one");
        YamlNode rootNode = stream.Documents[0].RootNode;
        if (rootNode is YamlScalarNode { Value: null or "" or "~" or "null" }) return new JsonObject();
        return YamlToJson(rootNode, "", path, origins) as JsonObject
            ?? throw new ConfigException($"config file '{path}' line {rootNode.Start.Line}: the top level must be a mapping");
    }

    static JsonNode? YamlToJson(YamlNode node, string key, string path, Dictionary<string, string> origins)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (keyNode, valueNode) in mapping.Children)
                {
                    if (keyNode is not YamlScalarNode { Value: { } name })
                        throw new ConfigException($"config file '{path}' line {keyNode.Start.Line}: keys must be plain names");
                    string childKey = key.Length == 0 ? name : key + "." + name;
                    if (obj.ContainsKey(name))
                        throw new ConfigException($"config file '{path}' line {keyNode.Start.Line}: duplicate key '{childKey}'");
                    origins[childKey] = $"{path} line {keyNode.Start.Line}";
                    obj[name] = YamlToJson(valueNode, childKey, path, origins);
                }
                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (YamlNode item in sequence.Children) array.Add(YamlToJson(item, key, path, origins));
                return array;
            case YamlScalarNode scalar:
                return scalar.Style is ScalarStyle.Plain ? PlainScalar(scalar.Value ?? "") : JsonValue.Create(scalar.Value ?? "");
            default:
                throw new ConfigException($"config file '{path}' line {node.Start.Line}: unsupported YAML node for '{key}'");
        }
    }

    /// <summary>Types a plain (unquoted) scalar as YAML's core schema does: null, booleans, numbers, else a string.</summary>
    static JsonNode? PlainScalar(string text)
    {
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "true" or "True" or "TRUE": return JsonValue.Create(true);
            case "false" or "False" or "FALSE": return JsonValue.Create(false);
        }
        string digits = text.Replace("_", "");
        if (long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
        if (ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u)) return JsonValue.Create(u);
        if (double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d))
            return JsonValue.Create(d);
        return JsonValue.Create(text);
    }

    // ---- command-line overrides ----

    /// <summary>Applies `a.b.c=value`; the value is read like a plain YAML scalar (number, bool, null or text).</summary>
    static void ApplyOverride(JsonObject root, string assignment, Dictionary<string, string> origins)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ConfigException($"command-line override '{assignment}': expected key=value, e.g. ppo.clip_epsilon=0.1");
        string key = assignment[..eq].Trim();
        string value = assignment[(eq + 1)..].Trim();
        string[] parts = key.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new ConfigException($"command-line override '{assignment}': empty part in key '{key}'");

        JsonObject target = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            JsonNode? child = target[parts[i]];
            if (child is null)
            {
                child = new JsonObject();
                target[parts[i]] = child;
                origins.TryAdd(string.Join('.', parts[..(i + 1)]), $"command-line override '{assignment}'");
            }
            target = child as JsonObject
                ?? throw new ConfigException($"command-line override '{assignment}': '{string.Join('.', parts[..(i + 1)])}' is not a section");
        }
        bool quoted = value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\'');
        target[parts[^1]] = quoted ? JsonValue.Create(value[1..^1]) : PlainScalar(value);
        origins[key] = $"command-line override '{assignment}'";
    }

    // ---- unknown keys ----

    static void CheckKeys(JsonObject obj, Type type, string prefix, Dictionary<string, string> origins, string? path)
    {
        Dictionary<string, PropertyInfo> known = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name), StringComparer.Ordinal);
        foreach (var (name, value) in obj)
        {
            string key = prefix.Length == 0 ? name : prefix + "." + name;
            if (!known.TryGetValue(name, out PropertyInfo? property))
            {
                string where = prefix.Length == 0 ? "at the top level" : $"in section '{prefix}'";
                throw new ConfigException($"unknown config key '{key}' ({Origin(key, origins, path)}); known keys {where}: {string.Join(", ", known.Keys.Order())}");
            }
            if (IsSection(property.PropertyType))
            {
                if (value is not JsonObject section)
                    throw new ConfigException($"config key '{key}' ({Origin(key, origins, path)}) must be a section with keys: {string.Join(", ", SectionKeys(property.PropertyType))}");
                CheckKeys(section, property.PropertyType, key, origins, path);
            }
        }
    }

    static bool IsSection(Type type) => type.IsClass && type != typeof(string) && type.Namespace == typeof(RlefConfig).Namespace;

    static IEnumerable<string> SectionKeys(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite)
            .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name)).Order();

    static string Origin(string key, Dictionary<string, string> origins, string? path) =>
        origins.TryGetValue(key, out string? origin) ? origin : path ?? "defaults";

    /// <summary>"$.ppo.clip_epsilon" → "ppo.clip_epsilon".</summary>
    static string JsonPathToKey(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) ? "(top level)" : jsonPath.TrimStart('$').TrimStart('.').Replace("['", ".").Replace("']", "");
}
