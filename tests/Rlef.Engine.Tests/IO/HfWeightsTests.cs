using Rlef.Engine.IO;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Tests.IO;

public sealed class HfWeightsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-hf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<Parameter> Model(int seed, bool lmHead = true)
    {
        var ps = new List<Parameter>
        {
            new("model.embed_tokens.weight", [11, 4]),
            new("model.layers.0.self_attn.q_proj.weight", [4, 4]),
            new("model.layers.0.mlp.down_proj.weight", [4, 6]),
            new("model.norm.weight", [4]),
        };
        if (lmHead) ps.Add(new("lm_head.weight", [11, 4]));
        var random = new Random(seed);
        foreach (var p in ps)
            for (int i = 0; i < p.Length; i++) p.Data[i] = (float)random.NextDouble();
        return ps;
    }

    private static void AssertSameValues(List<Parameter> expected, List<Parameter> actual)
    {
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Data, actual[i].Data);
    }

    [Fact]
    public void SingleFileRoundTrip()
    {
        var saved = Model(1);
        HfWeights.Save(_dir, saved);
        Assert.True(File.Exists(Path.Combine(_dir, HfWeights.SingleFile)));
        using (var file = SafetensorsFile.Open(Path.Combine(_dir, HfWeights.SingleFile)))
            Assert.Equal("pt", file.Metadata["format"]);
        var loaded = Model(2);
        var result = HfWeights.Load(_dir, loaded);
        AssertSameValues(saved, loaded);
        Assert.Empty(result.UnusedTensors);
        Assert.False(result.LmHeadFromEmbedding);
    }

    [Fact]
    public void ShardedRoundTripAndLayoutSwitch()
    {
        var saved = Model(1);
        HfWeights.Save(_dir, saved, maxShardBytes: 200);
        string[] shards = Directory.GetFiles(_dir, "model-*-of-*.safetensors");
        Assert.True(shards.Length > 1);
        Assert.True(File.Exists(Path.Combine(_dir, HfWeights.IndexFile)));
        Assert.False(File.Exists(Path.Combine(_dir, HfWeights.SingleFile)));
        var loaded = Model(2);
        var result = HfWeights.Load(_dir, loaded);
        AssertSameValues(saved, loaded);
        Assert.Equal(shards.Length, result.Files.Count);

        // Saving again as one file removes the index and shards, which would otherwise take precedence.
        saved[0].Data[0] = 99;
        HfWeights.Save(_dir, saved);
        Assert.Equal([HfWeights.SingleFile], Directory.GetFiles(_dir).Select(Path.GetFileName));
        HfWeights.Load(_dir, loaded);
        Assert.Equal(99, loaded[0].Data[0]);
    }

    [Fact]
    public void BFloat16CheckpointLoadsIntoFp32()
    {
        var saved = Model(1);
        HfWeights.Save(_dir, saved, SafetensorsDType.BF16);
        var loaded = Model(2);
        HfWeights.Load(_dir, loaded);
        for (int i = 0; i < saved.Count; i++)
            for (int j = 0; j < saved[i].Length; j++)
                Assert.Equal(FloatConversions.FromBFloat16(FloatConversions.ToBFloat16(saved[i].Data[j])), loaded[i].Data[j]);
    }

    [Fact]
    public void TiedEmbeddingFillsAMissingLmHeadOnlyWhenAllowed()
    {
        var tied = Model(1, lmHead: false);
        HfWeights.Save(_dir, tied);
        var untied = Model(2);
        var e = Assert.Throws<InvalidDataException>(() => HfWeights.Load(_dir, untied));
        Assert.Contains("'lm_head.weight'", e.Message);
        Assert.Contains(HfWeights.SingleFile, e.Message);
        var result = HfWeights.Load(_dir, untied, allowMissingLmHead: true);
        Assert.True(result.LmHeadFromEmbedding);
        Assert.Equal(tied[0].Data, untied[^1].Data);
    }

    [Fact]
    public void ExtraTensorsAreReportedNotRequired()
    {
        HfWeights.Save(_dir, Model(1));
        var result = HfWeights.Load(_dir, Model(2, lmHead: false));
        Assert.Equal(["lm_head.weight"], result.UnusedTensors);
    }

    [Fact]
    public void ErrorsNameTheFileAndTensor()
    {
        var e0 = Assert.Throws<FileNotFoundException>(() => HfWeights.Load(_dir, Model(1)));
        Assert.Contains("neither model.safetensors nor model.safetensors.index.json", e0.Message);

        HfWeights.Save(_dir, Model(1));
        var wrong = Model(2);
        wrong[2] = new Parameter("model.layers.0.mlp.down_proj.weight", [6, 4]);
        var e1 = Assert.Throws<InvalidDataException>(() => HfWeights.Load(_dir, wrong));
        Assert.Contains("'model.layers.0.mlp.down_proj.weight' has shape [4, 6]", e1.Message);
        Assert.Contains("[6, 4]", e1.Message);

        File.WriteAllText(Path.Combine(_dir, HfWeights.IndexFile),
            """{"metadata":{},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors"}}""");
        var e2 = Assert.Throws<FileNotFoundException>(() => HfWeights.Load(_dir, Model(1).Take(1)));
        Assert.Contains("'model-00001-of-00002.safetensors', which does not exist", e2.Message);

        File.WriteAllText(Path.Combine(_dir, HfWeights.IndexFile), """{"weight_map":{"model.embed_tokens.weight":"../model.safetensors"}}""");
        Assert.Contains("not a file name", Assert.Throws<InvalidDataException>(() => HfWeights.Load(_dir, Model(1).Take(1))).Message);

        File.WriteAllText(Path.Combine(_dir, HfWeights.IndexFile), """{"weight_map":{"model.norm.weight":"model.safetensors"}}""");
        var e3 = Assert.Throws<InvalidDataException>(() => HfWeights.Load(_dir, Model(1).Take(1)));
        Assert.Contains("model.safetensors.index.json: no tensor 'model.embed_tokens.weight'", e3.Message);
    }
}
