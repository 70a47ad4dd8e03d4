using Rlef.Engine.Model;
using Rlef.Training.Sft;
using Rlef.Training.Tests.Trainer;

namespace Rlef.Cli.Tests.Actors;

/// <summary>
/// The learning task's warm-started policy (SFT on the answer format, as the trainer's learning test starts it) saved
/// as a model directory, and two `rlef serve model` processes serving it. Shared by the actor tests; every process
/// is stopped by its id at the end.
/// </summary>
public sealed class PrintModelServers : IDisposable
{
    public PrintModelServers()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("rlef-actors-").FullName;
        Model = PrintTask.Model();
        var config = PrintTask.Config(rolloutsPerIteration: 64, updatesPerIteration: 4, totalUpdates: 32, learningRate: 1e-3);
        var sft = new SftTrainer(Model, config with { Sft = config.Sft with { Epochs = 4 } });
        sft.Train(sft.Examples(PrintTask.WarmStartTrajectories(PrintTask.Problems(256, seed: 11), seed: 12)), batchSize: 16, (_, _) => { });
        ModelDirectory = Path.Combine(Directory, "model");
        Model.Save(ModelDirectory);
        A = ModelServerProcess.Start(ModelDirectory, "print");
        B = ModelServerProcess.Start(ModelDirectory, "print");
    }

    public string Directory { get; }
    public string ModelDirectory { get; }
    /// <summary>The warm-started policy (the in-process reference).</summary>
    public LlamaModel Model { get; }
    public ModelServerProcess A { get; }
    public ModelServerProcess B { get; }

    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
