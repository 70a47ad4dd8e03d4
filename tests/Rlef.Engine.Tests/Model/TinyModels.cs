using Rlef.Engine.Model;

namespace Rlef.Engine.Tests.Model;

internal static class TinyModels
{
    /// <summary>2 layers, 4 query heads over 2 key/value heads (GQA), head_dim 6.</summary>
    public static LlamaConfig Config(bool qkvBias = false, bool tied = false, int kvHeads = 2) =>
        LlamaConfig.Create(vocabSize: 23, hiddenSize: 24, layers: 2, heads: 4, kvHeads: kvHeads, intermediateSize: 40,
            maxPositions: 64, tieEmbeddings: tied, qkvBias: qkvBias);

    /// <summary>Qwen3-style: per-head q/k RMSNorm and a head_dim (8) that is not hidden / heads (6).</summary>
    public static LlamaConfig Qwen3Config() =>
        LlamaConfig.Create(vocabSize: 23, hiddenSize: 24, layers: 2, heads: 4, kvHeads: 2, intermediateSize: 40,
            maxPositions: 64, tieEmbeddings: true, qkNorm: true) with { HeadDim = 8 };

    /// <summary>
    /// Weights large enough that every path carries gradient of order one (the training init's 0.02 makes the deep
    /// weights' gradients tiny, which a finite-difference check cannot tell from zero).
    /// </summary>
    public static LlamaModel Random(LlamaConfig config, int seed, ModelHead head = ModelHead.LanguageModel)
    {
        var model = LlamaModel.CreateRandom(config, seed, head);
        var rng = new Random(seed + 1);
        foreach (var p in model.Parameters)
            for (int i = 0; i < p.Length; i++)
            {
                float noise = (float)(rng.NextDouble() * 2 - 1);
                p.Data[i] = p.Name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1 + 0.2f * noise
                    : p.Name.EndsWith(".bias", StringComparison.Ordinal) ? 0.2f * noise
                    : 0.5f * noise;
            }
        return model;
    }

    public static int[] Tokens(Random rng, int count, int vocab) => Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
}
