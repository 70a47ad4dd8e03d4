using System.Text.Json;
using System.Text.Json.Nodes;
using Rlef.Engine.Layers;

namespace Rlef.Engine.Model;

/// <summary>
/// The architecture of a Llama-family decoder, as read from a Hugging Face config.json. One record covers
/// Llama 3.x (model_type "llama", optional llama3 rope_scaling), Qwen2/2.5 ("qwen2": bias on q/k/v), Qwen3 ("qwen3":
/// RMSNorm on each query and key head) and SmolLM
/// (a "llama" with tied embeddings).
/// </summary>
public sealed record LlamaConfig
{
    public string ModelType { get; init; } = "llama";
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    /// <summary>Per-head dimension; hidden_size / num_attention_heads unless config.json says otherwise.</summary>
    public int HeadDim { get; init; }
    public int VocabSize { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public float RmsNormEps { get; init; } = 1e-6f;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q_proj, k_proj, v_proj (Qwen2; Llama with attention_bias).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on o_proj (Llama with attention_bias; never in Qwen2).</summary>
    public bool OutputBias { get; init; }
    /// <summary>RMSNorm over each query and key head before RoPE (Qwen3's q_norm, k_norm).</summary>
    public bool QkNorm { get; init; }
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];

    public int QDim => NumAttentionHeads * HeadDim;
    public int KvDim => NumKeyValueHeads * HeadDim;

    /// <summary>A Llama config with the given sizes (head_dim = hidden / heads), for training from scratch and tests.</summary>
    public static LlamaConfig Create(int vocabSize, int hiddenSize, int layers, int heads, int kvHeads, int intermediateSize,
        int maxPositions = 2048, bool tieEmbeddings = false, bool qkvBias = false, double ropeTheta = 10000, float rmsNormEps = 1e-5f,
        bool qkNorm = false)
    {
        var config = new LlamaConfig
        {
            ModelType = qkNorm ? "qwen3" : qkvBias ? "qwen2" : "llama", VocabSize = vocabSize, HiddenSize = hiddenSize, NumHiddenLayers = layers,
            NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = hiddenSize / heads, IntermediateSize = intermediateSize,
            MaxPositionEmbeddings = maxPositions, TieWordEmbeddings = tieEmbeddings, QkvBias = qkvBias, OutputBias = qkvBias && qkNorm, QkNorm = qkNorm, RopeTheta = ropeTheta,
            RmsNormEps = rmsNormEps,
        };
        config.Validate("LlamaConfig.Create");
        return config;
    }

    /// <summary>Reads a Hugging Face config.json; errors name the file and the field.</summary>
    public static LlamaConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static LlamaConfig Parse(string json, string source = "config.json")
    {
        JsonObject root;
        try { root = JsonNode.Parse(json) as JsonObject ?? throw new FormatException($"{source}: expected a JSON object."); }
        catch (JsonException e) { throw new FormatException($"{source}: invalid JSON: {e.Message}", e); }

        string modelType = OptString(root, "model_type", source) ?? "llama";
        if (modelType is not ("llama" or "qwen2" or "qwen3" or "mistral"))
            throw new NotSupportedException($"{source}: model_type \"{modelType}\" is not supported (supported: llama, qwen2, qwen3, mistral).");
        string act = OptString(root, "hidden_act", source) ?? "silu";
        if (act != "silu") throw new NotSupportedException($"{source}: hidden_act \"{act}\" is not supported (only silu).");
        if (OptBool(root, "mlp_bias", source) == true) throw new NotSupportedException($"{source}: mlp_bias = true is not supported.");
        if (root["sliding_window"] is JsonNode && OptBool(root, "use_sliding_window", source) == true)
            throw new NotSupportedException($"{source}: use_sliding_window = true is not supported.");

        int hidden = ReqInt(root, "hidden_size", source);
        int heads = ReqInt(root, "num_attention_heads", source);
        bool? attentionBias = OptBool(root, "attention_bias", source);
        bool qwen = modelType is "qwen2" or "qwen3";
        bool qwen2 = modelType == "qwen2";
        var config = new LlamaConfig
        {
            ModelType = modelType,
            HiddenSize = hidden,
            IntermediateSize = ReqInt(root, "intermediate_size", source),
            NumHiddenLayers = ReqInt(root, "num_hidden_layers", source),
            NumAttentionHeads = heads,
            NumKeyValueHeads = OptInt(root, "num_key_value_heads", source) ?? heads,
            HeadDim = OptInt(root, "head_dim", source) ?? (heads > 0 ? hidden / heads : 0),
            VocabSize = ReqInt(root, "vocab_size", source),
            MaxPositionEmbeddings = OptInt(root, "max_position_embeddings", source) ?? (qwen ? 32768 : 2048),
            RopeTheta = OptDouble(root, "rope_theta", source) ?? 10000,
            RopeScaling = ParseRopeScaling(root["rope_scaling"], source),
            RmsNormEps = (float)(OptDouble(root, "rms_norm_eps", source) ?? 1e-6),
            TieWordEmbeddings = OptBool(root, "tie_word_embeddings", source) ?? false,
            // Qwen2 always has q/k/v bias and never o_proj bias; Llama's and Qwen3's attention_bias puts a bias on all four.
            QkvBias = qwen2 || attentionBias == true,
            OutputBias = !qwen2 && attentionBias == true,
            QkNorm = modelType == "qwen3",
            BosTokenId = OptInt(root, "bos_token_id", source),
            EosTokenIds = root["eos_token_id"] switch
            {
                null => [],
                JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
                JsonValue v when v.TryGetValue(out int id) => [id],
                _ => throw new FormatException($"{source}: eos_token_id must be an integer or a list of integers."),
            },
        };
        config.Validate(source);
        return config;
    }

    private static RopeScaling? ParseRopeScaling(JsonNode? node, string source)
    {
        if (node is null) return null;
        if (node is not JsonObject o) throw new FormatException($"{source}: rope_scaling must be an object or null.");
        string type = OptString(o, "rope_type", source) ?? OptString(o, "type", source)
            ?? throw new FormatException($"{source}: rope_scaling has neither rope_type nor type.");
        if (type is not ("default" or "linear" or "llama3"))
            throw new NotSupportedException($"{source}: rope_scaling type \"{type}\" is not supported (supported: default, linear, llama3).");
        double factor = OptDouble(o, "factor", source) ?? (type == "default" ? 1 : throw new FormatException($"{source}: rope_scaling.factor is missing."));
        return new RopeScaling(type, factor,
            OptDouble(o, "low_freq_factor", source) ?? 1,
            OptDouble(o, "high_freq_factor", source) ?? 4,
            OptInt(o, "original_max_position_embeddings", source) ?? 8192);
    }

    /// <summary>Checks the sizes fit together; the message names the field.</summary>
    public void Validate(string source)
    {
        void Positive(int value, string field) { if (value <= 0) throw new FormatException($"{source}: {field} must be positive, got {value}."); }
        Positive(HiddenSize, "hidden_size"); Positive(IntermediateSize, "intermediate_size"); Positive(NumHiddenLayers, "num_hidden_layers");
        Positive(NumAttentionHeads, "num_attention_heads"); Positive(NumKeyValueHeads, "num_key_value_heads"); Positive(HeadDim, "head_dim");
        Positive(VocabSize, "vocab_size"); Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (NumAttentionHeads % NumKeyValueHeads != 0)
            throw new FormatException($"{source}: num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads}).");
        if (HeadDim % 2 != 0) throw new FormatException($"{source}: head_dim ({HeadDim}) must be even for rotary embeddings.");
        if (RopeTheta <= 0) throw new FormatException($"{source}: rope_theta must be positive.");
        if (RmsNormEps <= 0) throw new FormatException($"{source}: rms_norm_eps must be positive.");
    }

    /// <summary>A config.json that <see cref="Parse"/> reads back to this record (written next to saved weights).</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType switch { "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", _ => "LlamaForCausalLM" }),
            ["model_type"] = ModelType,
            ["hidden_act"] = "silu",
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rope_theta"] = RopeTheta,
            ["rms_norm_eps"] = RmsNormEps,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["torch_dtype"] = "float32",
        };
        if (ModelType != "qwen2") o["attention_bias"] = QkvBias;
        if (RopeScaling is { } s)
            o["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = s.Type, ["factor"] = s.Factor, ["low_freq_factor"] = s.LowFreqFactor,
                ["high_freq_factor"] = s.HighFreqFactor, ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
            };
        if (BosTokenId is { } bos) o["bos_token_id"] = bos;
        if (EosTokenIds.Length == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Length > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(x => (JsonNode)x).ToArray());
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static T? Get<T>(JsonObject o, string field, string source, string what) where T : struct
    {
        if (o[field] is not JsonNode node) return null;
        if (node is JsonValue v && v.TryGetValue(out T value)) return value;
        // Integers written as 4.0 or 1e4 are common in config.json files: accept whole doubles for int fields.
        if (typeof(T) == typeof(int) && node is JsonValue dv && dv.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (T)(object)(int)d;
        if (typeof(T) == typeof(double) && node is JsonValue iv && iv.TryGetValue(out long l)) return (T)(object)(double)l;
        throw new FormatException($"{source}: {field} must be {what}, got {node.ToJsonString()}.");
    }

    private static int ReqInt(JsonObject o, string field, string source)
        => Get<int>(o, field, source, "an integer") ?? throw new FormatException($"{source}: required field {field} is missing.");
    private static int? OptInt(JsonObject o, string field, string source) => o[field] is null ? null : Get<int>(o, field, source, "an integer");
    private static double? OptDouble(JsonObject o, string field, string source) => Get<double>(o, field, source, "a number");
    private static bool? OptBool(JsonObject o, string field, string source) => Get<bool>(o, field, source, "true or false");
    private static string? OptString(JsonObject o, string field, string source)
        => o[field] switch
        {
            null => null,
            JsonValue v when v.TryGetValue(out string? s) => s,
            var n => throw new FormatException($"{source}: {field} must be a string, got {n.ToJsonString()}."),
        };
}
