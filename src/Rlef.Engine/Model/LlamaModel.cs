using Rlef.Engine.Layers;
using Rlef.Engine.Optim;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Model;

/// <summary>What sits on top of the decoder stack.</summary>
public enum ModelHead
{
    /// <summary>lm_head: logits over the vocabulary (the policy, the reference).</summary>
    LanguageModel,
    /// <summary>value_head: one scalar per position (the PPO critic).</summary>
    Value,
}

/// <summary>The weights of one decoder layer, named as in Hugging Face checkpoints.</summary>
public sealed class DecoderLayerWeights
{
    internal DecoderLayerWeights(LlamaConfig c, int i, List<Parameter> all)
    {
        string p = $"model.layers.{i}.";
        Parameter Add(string name, params int[] shape) { var x = new Parameter(p + name, shape); all.Add(x); return x; }
        InputNorm = Add("input_layernorm.weight", c.HiddenSize);
        Q = Add("self_attn.q_proj.weight", c.QDim, c.HiddenSize);
        QBias = c.QkvBias ? Add("self_attn.q_proj.bias", c.QDim) : null;
        K = Add("self_attn.k_proj.weight", c.KvDim, c.HiddenSize);
        KBias = c.QkvBias ? Add("self_attn.k_proj.bias", c.KvDim) : null;
        V = Add("self_attn.v_proj.weight", c.KvDim, c.HiddenSize);
        VBias = c.QkvBias ? Add("self_attn.v_proj.bias", c.KvDim) : null;
        QNorm = c.QkNorm ? Add("self_attn.q_norm.weight", c.HeadDim) : null;
        KNorm = c.QkNorm ? Add("self_attn.k_norm.weight", c.HeadDim) : null;
        O = Add("self_attn.o_proj.weight", c.HiddenSize, c.QDim);
        OBias = c.OutputBias ? Add("self_attn.o_proj.bias", c.HiddenSize) : null;
        PostNorm = Add("post_attention_layernorm.weight", c.HiddenSize);
        Gate = Add("mlp.gate_proj.weight", c.IntermediateSize, c.HiddenSize);
        Up = Add("mlp.up_proj.weight", c.IntermediateSize, c.HiddenSize);
        Down = Add("mlp.down_proj.weight", c.HiddenSize, c.IntermediateSize);
    }

    public Parameter InputNorm { get; }
    public Parameter Q { get; }
    public Parameter? QBias { get; }
    public Parameter K { get; }
    public Parameter? KBias { get; }
    public Parameter V { get; }
    public Parameter? VBias { get; }
    /// <summary>Qwen3's per-head RMSNorm weights [head_dim] on queries and keys.</summary>
    public Parameter? QNorm { get; }
    public Parameter? KNorm { get; }
    public Parameter O { get; }
    public Parameter? OBias { get; }
    public Parameter PostNorm { get; }
    public Parameter Gate { get; }
    public Parameter Up { get; }
    public Parameter Down { get; }
}

/// <summary>
/// A Llama-family decoder (Llama 3.x, Qwen2/2.5, Qwen3, SmolLM) in fp32: forward, backward for every parameter,
/// KV-cached decoding. Activation buffers are allocated on the first call for a given batch shape and reused
/// (call <see cref="Reserve"/> to do it up front). An instance is not thread-safe: one pass at a time.
/// <para>Training passes (<see cref="ForwardLogProbs"/>, <see cref="ForwardValues"/>) keep activations for the matching
/// backward; inference passes (<see cref="ScoreLogProbs"/>, <see cref="ComputeLogits"/>, <see cref="ComputeValues"/>,
/// <see cref="Decode"/>) keep one layer's worth. Padding: put it at the end of short sequences (right padding) and give
/// it zero loss weight; causal attention keeps real tokens from seeing it.</para>
/// </summary>
public sealed partial class LlamaModel
{
    private readonly List<Parameter> _parameters = [];
    private readonly Rope _rope;
    private Workspace? _training, _inference;

    private LlamaModel(LlamaConfig config, ModelHead head)
    {
        config.Validate("LlamaModel");
        Config = config;
        Head = head;
        Embed = Add(new Parameter("model.embed_tokens.weight", [config.VocabSize, config.HiddenSize]));
        var layers = new DecoderLayerWeights[config.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++) layers[i] = new DecoderLayerWeights(config, i, _parameters);
        Layers = layers;
        FinalNorm = Add(new Parameter("model.norm.weight", [config.HiddenSize]));
        if (head == ModelHead.LanguageModel)
            LmHead = config.TieWordEmbeddings ? Embed : Add(new Parameter("lm_head.weight", [config.VocabSize, config.HiddenSize]));
        else
        {
            ValueWeight = Add(new Parameter("value_head.weight", [1, config.HiddenSize]));
            ValueBias = Add(new Parameter("value_head.bias", [1]));
        }
        _rope = new Rope(config.HeadDim, config.RopeTheta, config.RopeScaling);
    }

    private Parameter Add(Parameter p) { _parameters.Add(p); return p; }

    public LlamaConfig Config { get; }
    public ModelHead Head { get; }
    /// <summary>Every trainable tensor once (a tied lm_head is the embedding), in checkpoint order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;
    public Parameter Embed { get; }
    public IReadOnlyList<DecoderLayerWeights> Layers { get; }
    public Parameter FinalNorm { get; }
    /// <summary>The output projection [V,C] (the embedding itself when tied); null for a value model.</summary>
    public Parameter? LmHead { get; }
    /// <summary>value_head.weight [1,C] and value_head.bias [1]; null for a language model.</summary>
    public Parameter? ValueWeight { get; }
    public Parameter? ValueBias { get; }
    /// <summary>True when every parameter is frozen: backward passes are refused.</summary>
    public bool IsFrozen => _parameters.TrueForAll(p => p.Frozen);
    public long ParameterCount => _parameters.Sum(p => (long)p.Length);

    /// <summary>
    /// A model with freshly initialised weights (seeded, reproducible): N(0, 0.02) for matrices and embeddings,
    /// scaled by 1/√(2·layers) for the projections that write into the residual stream; ones for norms, zero biases.
    /// </summary>
    public static LlamaModel CreateRandom(LlamaConfig config, int seed, ModelHead head = ModelHead.LanguageModel)
    {
        var model = new LlamaModel(config, head);
        var rng = new Random(seed);
        float residualStd = 0.02f / MathF.Sqrt(2f * config.NumHiddenLayers);
        foreach (var p in model._parameters)
        {
            if (p.Name.EndsWith("norm.weight", StringComparison.Ordinal)) p.Data.AsSpan().Fill(1f);
            else if (p.Name.EndsWith(".bias", StringComparison.Ordinal)) continue;
            else FillNormal(p.Data, rng, p.Name.EndsWith("o_proj.weight", StringComparison.Ordinal) || p.Name.EndsWith("down_proj.weight", StringComparison.Ordinal) ? residualStd : 0.02f);
        }
        return model;
    }

    /// <summary>A model with the architecture of config and all weights zero, to be filled by a checkpoint loader.</summary>
    public static LlamaModel CreateEmpty(LlamaConfig config, ModelHead head = ModelHead.LanguageModel) => new(config, head);

    internal static void FillNormal(Span<float> data, Random rng, float std)
    {
        // Box–Muller: two normals from two uniforms.
        for (int i = 0; i < data.Length; i += 2)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1)) * std;
            data[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < data.Length) data[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    /// <summary>A deep copy: same head, same weights, gradients zero, not frozen.</summary>
    public LlamaModel Clone()
    {
        var copy = new LlamaModel(Config, Head);
        copy.CopyWeightsFrom(this);
        return copy;
    }

    /// <summary>
    /// A value model (the PPO critic) that starts from this model's trunk, with a fresh random scalar head
    /// (N(0, 0.02) weight, zero bias): "initialised from the same model with the output layer replaced".
    /// </summary>
    public LlamaModel CreateValueModel(int seed)
    {
        var value = new LlamaModel(Config, ModelHead.Value);
        value.CopyWeightsFrom(this);
        FillNormal(value.ValueWeight!.Data, new Random(seed), 0.02f);
        value.ValueWeight.MarkChanged();
        return value;
    }

    /// <summary>
    /// Copies every parameter of source whose name this model also has (the trunk always; the head when both are
    /// the same kind). Shapes must match.
    /// </summary>
    public void CopyWeightsFrom(LlamaModel source)
    {
        var byName = source._parameters.ToDictionary(p => p.Name);
        foreach (var p in _parameters)
        {
            if (!byName.TryGetValue(p.Name, out var s)) continue;
            if (!p.Shape.AsSpan().SequenceEqual(s.Shape))
                throw new ArgumentException($"Cannot copy {p.Name}: shape [{string.Join(",", s.Shape)}] into [{string.Join(",", p.Shape)}].");
            s.Data.CopyTo(p.Data, 0);
            p.MarkChanged();
        }
    }

    private PackedWeightCache? _packedWeights;      // the store while a scope is open, else null (what passes read)
    private PackedWeightCache? _packedWeightsStore; // kept between scopes so the copies are allocated once
    private int _packedWeightsDepth;
    private readonly Lock _packedWeightsLock = new();

    /// <summary>
    /// Until the returned scope is disposed, the forward passes read each linear weight from a packed copy made on
    /// first use (repacked after its <see cref="Parameter.Version"/> changes) instead of packing it in every product:
    /// the same results bit for bit, faster when the same weights run many times (decoding steps, scoring passes).
    /// Opening the outermost scope repacks every weight on its next use, so writes between scopes need no marking;
    /// weights written inside a scope must be marked with <see cref="Parameter.MarkChanged"/> (the optimizer and
    /// loaders do). The copies take as much memory as the linear weights and are kept between scopes (allocated once)
    /// until <see cref="ReleasePackedWeights"/>.
    /// </summary>
    public IDisposable UsePackedWeights()
    {
        lock (_packedWeightsLock)
            if (_packedWeightsDepth++ == 0)
            {
                _packedWeightsStore ??= new PackedWeightCache();
                _packedWeightsStore.Invalidate();
                _packedWeights = _packedWeightsStore;
            }
        return new PackedWeightsScope(this);
    }

    /// <summary>Bytes held by packed weight copies (kept between scopes).</summary>
    public long PackedWeightBytes => _packedWeightsStore?.Bytes ?? 0;

    /// <summary>Frees the packed weight copies (outside any scope; the next scope packs again).</summary>
    public void ReleasePackedWeights()
    {
        lock (_packedWeightsLock)
        {
            if (_packedWeightsDepth > 0) throw new InvalidOperationException("Packed weights are in use: release them after the scope ends.");
            _packedWeightsStore = null;
        }
    }

    private sealed class PackedWeightsScope(LlamaModel model) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            lock (model._packedWeightsLock)
                if (--model._packedWeightsDepth == 0) model._packedWeights = null;
        }
    }

    /// <summary>Freezes every parameter (the reference policy): no gradients, no optimizer updates.</summary>
    public void Freeze() { foreach (var p in _parameters) p.Frozen = true; }

    /// <summary>Clears every gradient (in parallel: a serial clear of a 124M model takes tens of milliseconds).</summary>
    public void ZeroGrad() => Gradients.Zero(_parameters);

    /// <summary>Allocates the training buffers for passes of up to batch × seqLen tokens now instead of on the first step.</summary>
    public void Reserve(int batch, int seqLen) => TrainingWorkspace(batch, seqLen);

    /// <summary>Allocates the buffers of inference passes (scoring, <see cref="ComputeValues"/>) of up to batch × seqLen tokens.</summary>
    public void ReserveInference(int batch, int seqLen) => InferenceWorkspace(batch, seqLen);

    /// <summary>Bytes of the training and inference buffers this model holds now (not its weights, nor KV caches).</summary>
    public long BufferBytes => (_training?.Bytes ?? 0) + (_inference?.Bytes ?? 0);

    /// <summary>A KV cache for decoding up to `batch` sequences of up to `capacity` columns (padding included).</summary>
    public KvCache CreateKvCache(int batch, int capacity, int prefillChunk = 0)
    {
        return new KvCache(Config, batch, capacity, Math.Max(0, prefillChunk));
    }

    private Workspace TrainingWorkspace(int batch, int seq) => _training = Grown(ref _training, batch, seq, training: true);

    private Workspace InferenceWorkspace(int batch, int seq) => _inference = Grown(ref _inference, batch, seq, training: false);

    // The workspace itself when it holds this pass's tokens, else a bigger one. Buffers are sized by tokens (batch × seq)
    // alone: scoring and PPO pack many short or few long sequences per pass, and a workspace sized by the largest batch
    // times the longest sequence, or rebuilt whenever the batch grew at the same token count, churned GBs through the
    // large-object heap. Callers that know their largest pass reserve it first, so the buffers are allocated once.
    private Workspace Grown(ref Workspace? current, int batch, int seq, bool training)
    {
        var w = current;
        if (w != null && w.Fits(batch, seq)) return w;
        current = null; // let the old buffers go before allocating bigger ones
        long rows = Math.Max((long)batch * seq, w?.Rows ?? 0);
        if (rows > Array.MaxLength) throw new OutOfMemoryException($"A pass of {batch} × {seq} tokens exceeds the largest array.");
        return new Workspace(Config, (int)rows, training, headRows: HeadRowsFor((int)rows));
    }

    /// <summary>
    /// Bound on the logits buffer in floats (default 64 Mi = 256 MiB): longer batches compute the LM head in chunks of
    /// rows (and the backward recomputes each chunk's logits). Takes effect when buffers are next allocated.
    /// </summary>
    public int MaxLogitsFloats { get; set; } = 64 << 20;

    private int HeadRowsFor(int rows) => Head == ModelHead.Value ? 1 : Math.Clamp(MaxLogitsFloats / Config.VocabSize, 1, rows);
}
