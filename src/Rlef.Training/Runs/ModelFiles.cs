using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Engine.Tensors;
using Rlef.Training.Runs;

namespace Rlef.Training.Runs;

/// <summary>
/// Model weights and optimizer states as checkpoint files. The engine writes and reads safetensors by path and the
/// checkpoint store hands out streams, so this adapter goes through a temporary file next to the checkpoint.
/// </summary>
public static class ModelFiles
{
    /// <summary>All parameters of <paramref name="model"/> as one fp32 safetensors file.</summary>
    public static CheckpointFile Weights(string name, LlamaModel model) =>
        new(name, stream => ThroughFile(stream, path => Safetensors.Save(path, model.Parameters)));

    /// <summary>The moments and step of an AdamW.</summary>
    public static CheckpointFile Optimizer(string name, AdamW optimizer) =>
        new(name, stream => ThroughFile(stream, optimizer.SaveState));

    /// <summary>Fills every parameter of <paramref name="model"/> from a safetensors file; each must be there with its shape.</summary>
    public static void LoadWeights(string path, LlamaModel model) => LoadWeights(path, model.Parameters);

    public static void LoadWeights(string path, IEnumerable<Parameter> parameters)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (Parameter p in parameters)
        {
            if (!file.Contains(p.Name)) throw new InvalidDataException($"{path}: no tensor '{p.Name}'");
            var info = file.GetInfo(p.Name);
            if (info.ElementCount != p.Length)
                throw new InvalidDataException($"{path}: tensor '{p.Name}' has {info.ElementCount} elements, the model's has {p.Length}");
            file.ReadInto(p.Name, p.Data);
            p.MarkChanged();
        }
    }

    /// <summary>The path of a named file of a checkpoint (the engine's loaders read paths).</summary>
    public static string PathOf(Checkpoint checkpoint, string name)
    {
        string path = System.IO.Path.Combine(checkpoint.Directory, name);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{checkpoint.Directory}' has no file '{name}'", path);
        return path;
    }

    static void ThroughFile(Stream destination, Action<string> write)
    {
        string temp = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"rlef-{Guid.NewGuid():N}.safetensors");
        try
        {
            write(temp);
            using var source = File.OpenRead(temp);
            source.CopyTo(destination);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
