namespace Rlef.Training.Config;

// The parts of a run's configuration that are not the paper's method: which model and tokenizer, which data, and
// how the in-process engine batches its work. None of these change the mathematics, so none has a paper default.

/// <summary>The policy to train: a Hugging Face model directory, or a from-scratch Llama of the given size.</summary>
public sealed record ModelConfig
{
    /// <summary>Directory with config.json, *.safetensors and tokenizer.json; empty = a from-scratch model.</summary>
    public string Directory { get; init; } = "";
    /// <summary>`byte` (the byte-level tokenizer and chat format) or a tokenizer.json path; empty = the model directory's.</summary>
    public string Tokenizer { get; init; } = "";
    /// <summary>From-scratch sizes (used when <see cref="Directory"/> is empty).</summary>
    public int HiddenSize { get; init; } = 64;
    public int Layers { get; init; } = 2;
    public int Heads { get; init; } = 4;
    public int IntermediateSize { get; init; } = 192;
    public int MaxPositions { get; init; } = 2048;
    /// <summary>Seed of the from-scratch weights and of the value head.</summary>
    public int InitSeed { get; init; } = 1;
    /// <summary>Weights to start from instead (a safetensors file written by `rlef sft` or a checkpoint's policy.safetensors).</summary>
    public string InitWeights { get; init; } = "";
}

/// <summary>Training and validation problems.</summary>
public sealed record DataConfig
{
    /// <summary>Dataset family as `rlef eval` names it (codecontests, apps, humaneval, …).</summary>
    public string Kind { get; init; } = "codecontests";
    /// <summary>JSONL of training problems (the environment's loaders read it; the problem generator writes it).</summary>
    public string Train { get; init; } = "";
    /// <summary>JSONL of validation problems; empty = no periodic evaluation.</summary>
    public string Valid { get; init; } = "";
    /// <summary>Validation problems used per evaluation (the first N; 0 = all).</summary>
    public int ValidProblems { get; init; }
    /// <summary>Sampling temperature of validation rollouts (docs/protocol.md §4: 0.2 for 1@3).</summary>
    public double ValidTemperature { get; init; } = 0.2;
    /// <summary>Top-p of validation rollouts (docs/protocol.md §4: 0.95).</summary>
    public double ValidTopP { get; init; } = 0.95;
}

/// <summary>How the engine batches work (memory/speed only; results do not depend on it beyond float rounding).</summary>
public sealed record EngineConfig
{
    /// <summary>Most replies sampled in one batched generation call.</summary>
    public int GenerationBatch { get; init; } = 64;
    /// <summary>Most padded tokens (B × T) in one training micro-batch; a minibatch is split into such slices.</summary>
    public int MicroBatchTokens { get; init; } = 16384;
    /// <summary>Most padded tokens per batch when scoring reference log-probs and values.</summary>
    public int ScoringBatchTokens { get; init; } = 8192;
    /// <summary>How often (milliseconds) the generator checks whether every live episode waits for its reply: training
    /// and validation rollouts are sampled in lock step, so that a run reproduces bit for bit.</summary>
    public int BatchWindowMs { get; init; } = 5;
}

static class SetupValidation
{
    public static IEnumerable<string> Validate(RlefConfig c)
    {
        if (c.Model.Directory.Length == 0)
        {
            if (c.Model.HiddenSize <= 0 || c.Model.Heads <= 0 || c.Model.HiddenSize % c.Model.Heads != 0)
                yield return $"model.hidden_size ({c.Model.HiddenSize}) must be a positive multiple of model.heads ({c.Model.Heads})";
            if (c.Model.Layers <= 0) yield return $"model.layers must be > 0 (got {c.Model.Layers})";
            if (c.Model.IntermediateSize <= 0) yield return $"model.intermediate_size must be > 0 (got {c.Model.IntermediateSize})";
        }
        if (c.Engine.GenerationBatch <= 0) yield return $"engine.generation_batch must be > 0 (got {c.Engine.GenerationBatch})";
        if (c.Engine.MicroBatchTokens <= 0) yield return $"engine.micro_batch_tokens must be > 0 (got {c.Engine.MicroBatchTokens})";
        if (c.Engine.ScoringBatchTokens <= 0) yield return $"engine.scoring_batch_tokens must be > 0 (got {c.Engine.ScoringBatchTokens})";
        if (c.Engine.BatchWindowMs < 0) yield return $"engine.batch_window_ms must be >= 0 (got {c.Engine.BatchWindowMs})";
        if (c.Data.ValidProblems < 0) yield return $"data.valid_problems must be >= 0 (got {c.Data.ValidProblems})";
    }
}
