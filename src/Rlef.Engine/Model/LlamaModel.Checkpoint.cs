using Rlef.Engine.IO;

namespace Rlef.Engine.Model;

// Hugging Face directory layout: config.json beside model.safetensors (or shards with an index).
public sealed partial class LlamaModel
{
    /// <summary>
    /// Loads config.json and the safetensors weights of a Hugging Face model directory (converted to fp32).
    /// A language model may come from a checkpoint that stores only the embedding when its config ties lm_head to it.
    /// A value model needs value_head.* in the checkpoint (one saved by <see cref="Save"/>); to start a critic from a
    /// policy, load the policy and call <see cref="CreateValueModel"/>.
    /// </summary>
    public static LlamaModel Load(string directory, ModelHead head = ModelHead.LanguageModel)
    {
        var config = LlamaConfig.Load(Path.Combine(directory, "config.json"));
        var model = new LlamaModel(config, head);
        HfWeights.Load(directory, model.Parameters);
        return model;
    }

    /// <summary>Writes config.json and the weights (fp32 by default; BF16/F16 halve or quarter the size).</summary>
    public void Save(string directory, SafetensorsDType dtype = SafetensorsDType.F32)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), Config.ToJson());
        HfWeights.Save(directory, Parameters, dtype);
    }
}
