using Rlef.Engine.Model;
using Rlef.Tests;
using Rlef.Training.Config;
using Xunit;

namespace Rlef.Training.Tests.Trainer;

/// <summary>
/// The miniature's RL process must stay under 2 GB resident at its default settings. RSS is noisy (the GC decides
/// when garbage is returned), so this guards what decides it: the engine buffers one RLEF iteration holds at once,
/// measured on the real models/mini shapes at a few hundred tokens and scaled to the configured token budgets.
/// </summary>
public class MemoryBudgetTests
{
    const long Budget = 1200L << 20; // leaves ≥ 0.8 GB of the 2 GB for weights, optimiser state, the runtime and GC slack

    [Theory]
    [InlineData("configs/mini.yaml")]
    [InlineData("configs/mini-quick.yaml")]
    public void Miniature_buffers_at_default_settings_fit_the_budget(string configFile)
    {
        RlefConfig rlef = ConfigLoader.Load(Path.Combine(RepoPaths.Root, configFile));
        var config = LlamaConfig.Load(Path.Combine(RepoPaths.Root, "models", "mini", "config.json"));
        int micro = rlef.Engine.MicroBatchTokens, scoring = rlef.Engine.ScoringBatchTokens;

        long policy = Scaled((m, n) => m.Reserve(1, n), config, ModelHead.LanguageModel, micro);
        long value = Scaled((m, n) => m.Reserve(1, n), config, ModelHead.Value, micro);
        long reference = Scaled((m, n) => m.ReserveInference(1, n), config, ModelHead.LanguageModel, scoring);
        long valueScoring = Scaled((m, n) => m.ReserveInference(1, n), config, ModelHead.Value, scoring);
        // The generator's KV cache: every layer's keys and values for the whole generation batch. The longest episode of
        // the miniature (prompt, feedback and three replies) is 1,052 tokens, which the generator rounds up to 1,280 columns.
        long kvCache = 2L * config.NumHiddenLayers * rlef.Engine.GenerationBatch * 1280 * config.KvDim * sizeof(float);

        long total = policy + value + reference + valueScoring + kvCache;
        Assert.True(total <= Budget,
            $"{configFile}: {total >> 20} MB of engine buffers (policy {policy >> 20}, value {value >> 20}, scoring {(reference + valueScoring) >> 20}, KV cache {kvCache >> 20}) exceed {Budget >> 20} MB");
    }

    // The bytes a model's buffers take for `tokens` per pass: measured at 256 and 512 tokens (they are affine in it).
    static long Scaled(Action<LlamaModel, int> reserve, LlamaConfig config, ModelHead head, int tokens)
    {
        long At(int n)
        {
            var model = LlamaModel.CreateRandom(config, seed: 1, head);
            reserve(model, n);
            return model.BufferBytes;
        }
        long b256 = At(256), b512 = At(512);
        Assert.True(b512 > b256);
        return b256 + (b512 - b256) * (tokens - 256) / 256;
    }
}
