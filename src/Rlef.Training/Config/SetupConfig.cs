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
    /// <summary>Rollouts per validation problem (the validation solve rate is their mean); more make the
    /// best-on-valid choice less noisy. The paper does not say how many it used; 1 = one 1@3 sample per problem.</summary>
    public int ValidRollouts { get; init; } = 1;
    /// <summary>
    /// Keep only training problems with both public and private tests, as the paper (which dropped the problems missing
    /// either): with public tests only, the final judgement rewards outputs the model was shown in the feedback.
    /// false: every problem with any test.
    /// </summary>
    public bool RequirePublicAndPrivateTests { get; init; } = true;
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
    /// <summary>Most padded tokens (B × T) in one training micro-batch; a minibatch is split into such slices. The
    /// policy's and the value network's activations for the backward scale with it (≈70 KB and ≈60 KB a token for
    /// models/mini): 4096 keeps the miniature's RL process well under 2 GB, and at 4096 rows the matrix products are as
    /// efficient as at 16384 (the gradients of the slices are summed, so only float rounding depends on it).</summary>
    public int MicroBatchTokens { get; init; } = 4096;
    /// <summary>Most padded tokens per batch when scoring reference log-probs and values.</summary>
    public int ScoringBatchTokens { get; init; } = 4096;
    /// <summary>How often (milliseconds) the generator checks whether every live episode waits for its reply: training
    /// and validation rollouts are sampled in lock step, so that a run reproduces bit for bit.</summary>
    public int BatchWindowMs { get; init; } = 5;
}

/// <summary>Where the rollouts' programs run (no effect on results: the same sandbox, local or remote).</summary>
public sealed record SandboxConfig
{
    /// <summary>`URL[,URL...]` of `rlef serve sandbox` servers (docs/sandbox-service.md); empty = the in-process warm pool.</summary>
    public string Urls { get; init; } = "";
    /// <summary>Environment variable holding the servers' bearer token (read only when set).</summary>
    public string TokenEnv { get; init; } = "RLEF_SANDBOX_TOKEN";
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
        if (c.Sandbox.Urls.Length > 0)
        {
            string? problem = null;
            try { Rlef.Sandbox.RemoteSandboxExecutor.ParseServers(c.Sandbox.Urls); }
            catch (FormatException e) { problem = e.Message; }
            if (problem != null) yield return $"sandbox.urls: {problem}";
        }
        if (c.Data.ValidProblems < 0) yield return $"data.valid_problems must be >= 0 (got {c.Data.ValidProblems})";
    }
}
