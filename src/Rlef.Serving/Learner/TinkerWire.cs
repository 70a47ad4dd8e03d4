using System.Text.Json.Nodes;
using Rlef.Serving.Model;

namespace Rlef.Serving.Learner;

/// <summary>One training example of the Tinker API (docs/tinker.md "Endpoints"): the tokens the model reads and, per name, its loss inputs.</summary>
public sealed record Datum(int[] Input, IReadOnlyDictionary<string, float[]> LossInputs)
{
    /// <summary>target_tokens as ids (sent as int64, read exactly).</summary>
    public int[] Targets { get; init; } = [];
}

/// <summary>The AdamParams of an optim_step (docs/tinker.md; SDK defaults).</summary>
public sealed record AdamParams(double LearningRate, double Beta1, double Beta2, double Eps, double WeightDecay, double GradClipNorm);

/// <summary>
/// Reads and writes the Tinker API's JSON shapes (docs/tinker.md): ModelInput, TensorData, Datum, AdamParams,
/// SamplingParams. Every failure names the field, and is answered with 400.
/// </summary>
public static class TinkerWire
{
    /// <summary>ModelInput {"chunks": [{"type": "encoded_text", "tokens": [...]}]} as one token list.</summary>
    public static int[] ModelInput(JsonNode? node, string field, int vocabSize)
    {
        if (node is not JsonObject o || o["chunks"] is not JsonArray chunks)
            throw new BadRequestException($"'{field}' must be a ModelInput object with a 'chunks' list");
        var tokens = new List<int>();
        for (int i = 0; i < chunks.Count; i++)
        {
            if (chunks[i] is not JsonObject chunk) throw new BadRequestException($"'{field}.chunks[{i}]' must be an object");
            string type = chunk["type"]?.GetValue<string>() ?? "encoded_text";
            if (type != "encoded_text")
                throw new BadRequestException($"'{field}.chunks[{i}]': chunk type '{type}' is not supported (only encoded_text)");
            tokens.AddRange(RequestFields.TokenIds(chunk["tokens"], $"{field}.chunks[{i}].tokens", vocabSize));
        }
        return tokens.ToArray();
    }

    public static JsonObject ModelInputJson(IEnumerable<int> tokens) => new()
    {
        ["chunks"] = new JsonArray(new JsonObject { ["type"] = "encoded_text", ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()) }),
    };

    /// <summary>TensorData {"data": [...], "dtype": "int64"|"float32", "shape": [n]} as floats (1-D only).</summary>
    public static float[] Tensor(JsonNode? node, string field)
    {
        if (node is not JsonObject o || o["data"] is not JsonArray data)
            throw new BadRequestException($"'{field}' must be a TensorData object with a 'data' list");
        if (o["sparse_crow_indices"] is not null || o["sparse_col_indices"] is not null)
            throw new BadRequestException($"'{field}': sparse tensors are not supported (send dense data)");
        if (o["shape"] is JsonArray shape && (shape.Count != 1 || shape[0]?.GetValue<long>() != data.Count))
            throw new BadRequestException($"'{field}': only 1-D tensors of shape [{data.Count}] are supported");
        var values = new float[data.Count];
        for (int i = 0; i < values.Length; i++)
        {
            if (data[i] is not JsonValue v || !v.TryGetValue(out double x) || !double.IsFinite(x))
                throw new BadRequestException($"'{field}.data[{i}]' must be a finite number");
            values[i] = (float)x;
        }
        return values;
    }

    public static JsonObject TensorJson(IReadOnlyList<float> values) => new()
    {
        ["data"] = new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()),
        ["dtype"] = "float32",
        ["shape"] = new JsonArray(values.Count),
    };

    public static JsonObject TensorJson(IReadOnlyList<int> values) => new()
    {
        ["data"] = new JsonArray(values.Select(v => (JsonNode)v).ToArray()),
        ["dtype"] = "int64",
        ["shape"] = new JsonArray(values.Count),
    };

    /// <summary>Datum {"model_input", "loss_fn_inputs": {name: TensorData}}; every input has the model input's length.</summary>
    public static Datum ReadDatum(JsonNode? node, string field, int vocabSize)
    {
        if (node is not JsonObject o) throw new BadRequestException($"'{field}' must be a Datum object");
        int[] input = ModelInput(o["model_input"], field + ".model_input", vocabSize);
        if (input.Length == 0) throw new BadRequestException($"'{field}.model_input' has no tokens");
        if (o["loss_fn_inputs"] is not JsonObject inputs) throw new BadRequestException($"'{field}.loss_fn_inputs' must be an object");
        var read = new Dictionary<string, float[]>();
        int[] targets = [];
        foreach (var (name, value) in inputs)
        {
            string at = $"{field}.loss_fn_inputs.{name}";
            if (name == "target_tokens")
            {
                targets = Tensor(value, at).Select(x => (int)x).ToArray();
                foreach (int t in targets)
                    if (t < 0 || t >= vocabSize) throw new BadRequestException($"'{at}': token id {t} outside the vocabulary (0..{vocabSize - 1})");
            }
            else read[name] = Tensor(value, at);
            int length = name == "target_tokens" ? targets.Length : read[name].Length;
            if (length != input.Length)
                throw new BadRequestException($"'{at}' has {length} entries for {input.Length} input tokens (one per input position)");
        }
        if (targets.Length == 0) throw new BadRequestException($"'{field}.loss_fn_inputs.target_tokens' is required");
        return new Datum(input, read) { Targets = targets };
    }

    public static AdamParams ReadAdam(JsonNode? node)
    {
        if (node is not JsonObject o) throw new BadRequestException("'adam_params' must be an object");
        return new AdamParams(
            RequestFields.Number(o, "learning_rate", 1e-4, 0, 1e3),
            RequestFields.Number(o, "beta1", 0.9, 0, 0.999999999),
            RequestFields.Number(o, "beta2", 0.95, 0, 0.999999999),
            RequestFields.Number(o, "eps", 1e-12, 1e-30, 1),
            RequestFields.Number(o, "weight_decay", 0, 0, 1e3),
            RequestFields.Number(o, "grad_clip_norm", 0, 0, 1e12));
    }

    /// <summary>Parses "tinker://MODEL/sampler_weights/NAME" (or "tinker://MODEL/NAME", as SkyRL accepts).</summary>
    public static (string ModelId, string Name) SamplerPath(string path)
    {
        const string scheme = "tinker://";
        if (!path.StartsWith(scheme, StringComparison.Ordinal))
            throw new BadRequestException($"'model_path' must be tinker://MODEL_ID/sampler_weights/NAME, got '{path}'");
        string[] parts = path[scheme.Length..].Split('/');
        return parts switch
        {
            [var model, "sampler_weights", var name] when ValidName(model) && ValidName(name) => (model, name),
            [var model, var name] when ValidName(model) && ValidName(name) => (model, name),
            _ => throw new BadRequestException($"'model_path' must be tinker://MODEL_ID/sampler_weights/NAME, got '{path}'"),
        };
    }

    /// <summary>Names of models and checkpoints: ^[A-Za-z0-9_-]{1,255}$ (SkyRL's ID_PATTERN).</summary>
    public static bool ValidName(string name) =>
        name.Length is > 0 and <= 255 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');
}
