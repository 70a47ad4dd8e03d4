using Rlef.Engine.IO;
using Rlef.Engine.Model;

namespace Rlef.Engine.Tests.Model;

public class CheckpointTests
{
    [Theory]
    [InlineData(false)] // untied: lm_head.weight in the file
    [InlineData(true)]  // tied: only the embedding is stored
    public void Save_then_load_gives_the_same_model(bool tied)
    {
        var config = TinyModels.Config(qkvBias: true, tied: tied);
        var model = TinyModels.Random(config, seed: 31);
        string dir = Path.Combine(Path.GetTempPath(), "rlef-model-" + Guid.NewGuid().ToString("N"));
        try
        {
            model.Save(dir);
            Assert.True(File.Exists(Path.Combine(dir, "config.json")));
            var loaded = LlamaModel.Load(dir);
            Assert.Equal(model.Config with { EosTokenIds = [] }, loaded.Config with { EosTokenIds = [] });
            Assert.Equal(model.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
            for (int i = 0; i < model.Parameters.Count; i++) Assert.Equal(model.Parameters[i].Data, loaded.Parameters[i].Data);

            // A critic saved and loaded keeps its scalar head.
            var value = model.CreateValueModel(seed: 2);
            string valueDir = Path.Combine(dir, "value");
            value.Save(valueDir, SafetensorsDType.F32);
            var valueLoaded = LlamaModel.Load(valueDir, ModelHead.Value);
            Assert.Equal(value.ValueWeight!.Data, valueLoaded.ValueWeight!.Data);
            Assert.ThrowsAny<Exception>(() => LlamaModel.Load(dir, ModelHead.Value)); // a policy checkpoint has no value head
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bf16_checkpoints_round_to_bf16()
    {
        var model = TinyModels.Random(TinyModels.Config(), seed: 3);
        string dir = Path.Combine(Path.GetTempPath(), "rlef-model-" + Guid.NewGuid().ToString("N"));
        try
        {
            model.Save(dir, SafetensorsDType.BF16);
            var loaded = LlamaModel.Load(dir);
            var a = model.Layers[0].Q.Data; var b = loaded.Layers[0].Q.Data;
            for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], Math.Abs(a[i]) / 128 + 1e-30f);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
