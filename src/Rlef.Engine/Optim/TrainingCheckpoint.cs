using Rlef.Engine.IO;

namespace Rlef.Engine.Optim;

/// <summary>
/// A resumable training checkpoint: the weights in the Hugging Face layout (so the directory, with the model's
/// config.json beside them, loads like any checkpoint) plus the optimizer's state in optimizer.safetensors.
/// </summary>
public static class TrainingCheckpoint
{
    public const string OptimizerFile = "optimizer.safetensors";

    public static void Save(string directory, AdamW optimizer, SafetensorsDType weightsDType = SafetensorsDType.F32)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        HfWeights.Save(directory, optimizer.Parameters, weightsDType);
        optimizer.SaveState(Path.Combine(directory, OptimizerFile));
    }

    /// <summary>Loads the weights into the optimizer's parameters and restores its moments and step count.</summary>
    public static void Load(string directory, AdamW optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        string state = Path.Combine(directory, OptimizerFile);
        if (!File.Exists(state)) throw new FileNotFoundException($"{directory}: no {OptimizerFile}; not a training checkpoint.", state);
        HfWeights.Load(directory, optimizer.Parameters);
        optimizer.LoadState(state);
    }
}
