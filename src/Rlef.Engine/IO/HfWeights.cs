using System.Text.Json;
using System.Text.RegularExpressions;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.IO;

/// <summary>What <see cref="HfWeights.Load"/> did.</summary>
/// <param name="Files">The safetensors files read.</param>
/// <param name="UnusedTensors">Tensors in the checkpoint that no parameter asked for (e.g. rotary buffers).</param>
/// <param name="LmHeadFromEmbedding">True when lm_head.weight was absent and filled from the tied embedding.</param>
public sealed record HfLoadResult(IReadOnlyList<string> Files, IReadOnlyList<string> UnusedTensors, bool LmHeadFromEmbedding);

/// <summary>
/// Weights in the Hugging Face directory layout: config.json (written by the model) beside either one
/// model.safetensors or shards model-00001-of-0000N.safetensors listed by model.safetensors.index.json
/// ({"metadata": {"total_size": …}, "weight_map": {tensor name: shard file}}).
/// </summary>
public static partial class HfWeights
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string LmHeadName = "lm_head.weight";
    public const string EmbeddingName = "model.embed_tokens.weight";
    /// <summary>Shard size above which <see cref="Save"/> splits the weights (the Hugging Face default).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>
    /// Fills every parameter from the checkpoint in <paramref name="directory"/>, converting to fp32. Each parameter
    /// must be present with exactly its shape. With <paramref name="allowMissingLmHead"/>, a missing lm_head.weight is
    /// copied from model.embed_tokens.weight (checkpoints of models with tied embeddings store only the latter).
    /// </summary>
    public static HfLoadResult Load(string directory, IEnumerable<Parameter> parameters, bool allowMissingLmHead = false)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var (weightMap, layoutFile) = ReadLayout(directory);
            SafetensorsFile FileFor(string fileName)
            {
                if (!files.TryGetValue(fileName, out var file))
                {
                    string path = Path.Combine(directory, fileName);
                    if (!File.Exists(path))
                        throw new FileNotFoundException($"{Path.Combine(directory, IndexFile)} lists '{fileName}', which does not exist.", path);
                    files[fileName] = file = SafetensorsFile.Open(path);
                }
                return file;
            }

            var used = new HashSet<string>(StringComparer.Ordinal);
            bool lmHeadFromEmbedding = false;
            foreach (var parameter in parameters)
            {
                string source = parameter.Name;
                if (!weightMap.ContainsKey(source) && source == LmHeadName && allowMissingLmHead && weightMap.ContainsKey(EmbeddingName))
                {
                    source = EmbeddingName;
                    lmHeadFromEmbedding = true;
                }
                if (!weightMap.TryGetValue(source, out string? fileName))
                    throw new InvalidDataException($"{layoutFile}: no tensor '{parameter.Name}'" +
                        (parameter.Name == LmHeadName ? " (for tied embeddings, load with allowMissingLmHead)." : "."));
                var file = FileFor(fileName);
                if (!file.Contains(source))
                    throw new InvalidDataException($"{file.Path}: no tensor '{source}', though {IndexFile} places it there.");
                var info = file.GetInfo(source);
                if (!info.Shape.AsSpan().SequenceEqual(parameter.Shape))
                    throw new InvalidDataException($"{file.Path}: tensor '{source}' has shape [{string.Join(", ", info.Shape)}], " +
                        $"the model's '{parameter.Name}' is [{string.Join(", ", parameter.Shape)}] (does config.json match the weights?).");
                file.ReadInto(source, parameter.Data);
                parameter.MarkChanged();
                used.Add(source);
            }
            var unused = weightMap.Keys.Where(name => !used.Contains(name)).Order(StringComparer.Ordinal).ToList();
            return new HfLoadResult(files.Values.Select(f => f.Path).ToList(), unused, lmHeadFromEmbedding);
        }
        finally
        {
            foreach (var file in files.Values) file.Dispose();
        }
    }

    /// <summary>
    /// Writes the parameters as <paramref name="directory"/>/model.safetensors, or as shards plus an index when they
    /// exceed <paramref name="maxShardBytes"/>, and removes the other layout's stale files. Each file is replaced
    /// atomically; the index (or the single file) is written after the shards it names.
    /// </summary>
    public static void Save(string directory, IEnumerable<Parameter> parameters, SafetensorsDType dtype = SafetensorsDType.F32,
        long maxShardBytes = DefaultMaxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        Directory.CreateDirectory(directory);
        var list = parameters.ToList();
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };

        // Greedy split in parameter order: a new shard starts when the next tensor would overflow the current one.
        var shards = new List<List<Parameter>> { new() };
        long shardBytes = 0, totalBytes = 0;
        foreach (var p in list)
        {
            long bytes = (long)p.Length * dtype.Size();
            if (shards[^1].Count > 0 && shardBytes + bytes > maxShardBytes) { shards.Add([]); shardBytes = 0; }
            shards[^1].Add(p);
            shardBytes += bytes;
            totalBytes += bytes;
        }

        var keep = new HashSet<string>(StringComparer.Ordinal);
        if (shards.Count == 1)
        {
            Safetensors.Save(Path.Combine(directory, SingleFile), list, dtype, metadata);
            keep.Add(SingleFile);
        }
        else
        {
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (int s = 0; s < shards.Count; s++)
            {
                string name = $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
                Safetensors.Save(Path.Combine(directory, name), shards[s], dtype, metadata);
                foreach (var p in shards[s]) weightMap[p.Name] = name;
                keep.Add(name);
            }
            var index = new { metadata = new { total_size = totalBytes }, weight_map = weightMap };
            string indexPath = Path.Combine(directory, IndexFile);
            string temp = indexPath + $".tmp-{Environment.ProcessId}";
            File.WriteAllText(temp, JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
            File.Move(temp, indexPath, overwrite: true);
            keep.Add(IndexFile);
        }

        // Stale files of the other layout (or of a different shard count) would shadow or confuse the new weights.
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(path);
            if (keep.Contains(name)) continue;
            if (name == SingleFile || name == IndexFile || ShardName().IsMatch(name)) File.Delete(path);
        }
    }

    /// <summary>Tensor name → file name, from the index when there is one, else from the single file's header.</summary>
    private static (Dictionary<string, string> Map, string LayoutFile) ReadLayout(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"HfWeights: no directory '{directory}'.");
        string indexPath = Path.Combine(directory, IndexFile);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(indexPath))
        {
            JsonDocument document;
            try { document = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
            catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON: {e.Message}", e); }
            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object ||
                    !document.RootElement.TryGetProperty("weight_map", out var weights) || weights.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{indexPath}: missing object 'weight_map'.");
                foreach (var entry in weights.EnumerateObject())
                {
                    string? file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
                    // Shards must sit in the directory itself: a path in the index must not reach elsewhere.
                    if (string.IsNullOrEmpty(file) || file != Path.GetFileName(file) || file is "." or "..")
                        throw new InvalidDataException($"{indexPath}: weight_map['{entry.Name}'] is not a file name in the directory ({entry.Value.GetRawText()}).");
                    map[entry.Name] = file;
                }
            }
            return (map, indexPath);
        }
        string single = Path.Combine(directory, SingleFile);
        if (!File.Exists(single))
            throw new FileNotFoundException($"HfWeights: '{directory}' has neither {SingleFile} nor {IndexFile}.", single);
        using var header = SafetensorsFile.Open(single);
        foreach (string name in header.Names) map[name] = SingleFile;
        return (map, single);
    }

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();
}
