using System.Text.Json.Serialization;

namespace Rlef.Training.Config;

// The trainer's configuration as plain records. Every default is the paper's value where the paper fixes one
// (the comment names the section of docs/protocol.md); "unspecified" marks the project's own choices.
// File keys are the snake_case property names, e.g. `ppo.clip_epsilon` (see ConfigLoader).

/// <summary>The whole configuration of an RL (or SFT) run.</summary>
public sealed record RlefConfig
{
    public RewardConfig Reward { get; init; } = new();
    public PpoConfig Ppo { get; init; } = new();
    public OptimizerConfig Optimizer { get; init; } = new();
    public RolloutConfig Rollout { get; init; } = new();
    public AblationConfig Ablation { get; init; } = new();
    public SftConfig Sft { get; init; } = new();
    public ScheduleConfig Schedule { get; init; } = new();
    /// <summary>Which model, tokenizer and data the run uses, and how the engine batches work (see SetupConfig.cs).</summary>
    public ModelConfig Model { get; init; } = new();
    public DataConfig Data { get; init; } = new();
    public EngineConfig Engine { get; init; } = new();
    /// <summary>Where programs run: the in-process warm pool, or remote `rlef serve sandbox` servers.</summary>
    public SandboxConfig Sandbox { get; init; } = new();
    public LearnerConfig Learner { get; init; } = new();

    /// <summary>Turns per episode after ablations: single-turn RL allows one.</summary>
    [JsonIgnore]
    public int EffectiveTurnLimit => Ablation.SingleTurn ? 1 : Rollout.TurnLimit;

    /// <summary>Reward for invalid code on a non-final turn after ablations: single-turn RL has none (docs/protocol.md §3).</summary>
    [JsonIgnore]
    public double EffectiveInvalidCodeReward => Ablation.SingleTurn ? 0.0 : Reward.InvalidCode;

    /// <summary>Every inconsistency, each naming its key; empty when the config is usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Require(bool ok, string message) { if (!ok) errors.Add(message); }

        Require(Reward.KlCoefficient >= 0, $"reward.kl_coefficient must be >= 0 (got {Reward.KlCoefficient})");
        Require(Reward.Gamma is > 0 and <= 1, $"reward.gamma must be in (0, 1] (got {Reward.Gamma})");
        Require(Ppo.ClipEpsilon > 0, $"ppo.clip_epsilon must be > 0 (got {Ppo.ClipEpsilon})");
        Require(Ppo.ValueClip > 0, $"ppo.value_clip must be > 0 (got {Ppo.ValueClip})");
        Require(Ppo.AdvantageEpsilon > 0, $"ppo.advantage_epsilon must be > 0 (got {Ppo.AdvantageEpsilon})");
        Require(Optimizer.LearningRate > 0, $"optimizer.learning_rate must be > 0 (got {Optimizer.LearningRate})");
        Require(Optimizer.ValueLearningRate is null or > 0, $"optimizer.value_learning_rate must be > 0 (got {Optimizer.ValueLearningRate})");
        Require(Optimizer.WeightDecay >= 0, $"optimizer.weight_decay must be >= 0 (got {Optimizer.WeightDecay})");
        Require(Optimizer.WarmupSteps >= 0, $"optimizer.warmup_steps must be >= 0 (got {Optimizer.WarmupSteps})");
        Require(Optimizer.Beta1 is >= 0 and < 1, $"optimizer.beta1 must be in [0, 1) (got {Optimizer.Beta1})");
        Require(Optimizer.Beta2 is >= 0 and < 1, $"optimizer.beta2 must be in [0, 1) (got {Optimizer.Beta2})");
        Require(Optimizer.MaxGradNorm > 0, $"optimizer.max_grad_norm must be > 0 (got {Optimizer.MaxGradNorm})");
        Require(Rollout.RolloutsPerIteration > 0, $"rollout.rollouts_per_iteration must be > 0 (got {Rollout.RolloutsPerIteration})");
        Require(Rollout.UpdatesPerIteration > 0, $"rollout.updates_per_iteration must be > 0 (got {Rollout.UpdatesPerIteration})");
        Require(Rollout.UpdatesPerIteration <= 0 || Rollout.RolloutsPerIteration % Rollout.UpdatesPerIteration == 0,
            $"rollout.rollouts_per_iteration ({Rollout.RolloutsPerIteration}) must be divisible by rollout.updates_per_iteration ({Rollout.UpdatesPerIteration})");
        Require(Rollout.RolloutsPerProblem >= 1 && Rollout.RolloutsPerIteration % Math.Max(1, Rollout.RolloutsPerProblem) == 0,
            $"rollout.rollouts_per_problem ({Rollout.RolloutsPerProblem}) must be >= 1 and divide rollout.rollouts_per_iteration ({Rollout.RolloutsPerIteration})");
        Require(Ppo.Baseline != AdvantageBaseline.GroupMean || Rollout.RolloutsPerProblem >= 2,
            "ppo.baseline: group_mean needs rollout.rollouts_per_problem >= 2");
        Require(Ppo.Baseline != AdvantageBaseline.GroupMean || Ablation.ValueFunction == ValueLevel.Turn,
            "ppo.baseline: group_mean replaces the turn-level value; it does not combine with ablation.value_function: token");
        Require(Rollout.TurnLimit >= 1, $"rollout.turn_limit must be >= 1 (got {Rollout.TurnLimit})");
        Require(Data.ValidRollouts >= 1, $"data.valid_rollouts must be >= 1 (got {Data.ValidRollouts})");
        Require(Rollout.Temperature > 0, $"rollout.temperature must be > 0 (got {Rollout.Temperature})");
        Require(Rollout.TopP is > 0 and <= 1, $"rollout.top_p must be in (0, 1] (got {Rollout.TopP})");
        Require(Rollout.MaxReplyTokens > 0, $"rollout.max_reply_tokens must be > 0 (got {Rollout.MaxReplyTokens})");
        Require(Rollout.MaxPolicyLag >= 0, $"rollout.max_policy_lag must be >= 0 (got {Rollout.MaxPolicyLag})");
        Require(Rollout.ActorEntries.Count > 0, "rollout.actors must name at least one actor (embedded, vllm:URL, sglang:URL or rlef:URL)");
        foreach (string actor in Rollout.ActorEntries)
        {
            try { Rlef.Training.Actors.ActorSpec.Parse(actor); }
            catch (FormatException e) { errors.Add($"rollout.actors: {e.Message}"); }
        }
        Require(!(Ablation.SingleTurn && Ablation.NoExecutionFeedback),
            "ablation.single_turn and ablation.no_execution_feedback exclude each other (a single turn gets no feedback)");
        Require(Sft.Epochs > 0, $"sft.epochs must be > 0 (got {Sft.Epochs})");
        Require(Sft.LearningRate > 0, $"sft.learning_rate must be > 0 (got {Sft.LearningRate})");
        Require(Sft.BatchSize > 0, $"sft.batch_size must be > 0 (got {Sft.BatchSize})");
        Require(Sft.WarmupSteps >= 0, $"sft.warmup_steps must be >= 0 (got {Sft.WarmupSteps})");
        Require(Sft.FinalLearningRateFraction is >= 0 and <= 1, $"sft.final_learning_rate_fraction must be in [0, 1] (got {Sft.FinalLearningRateFraction})");
        Require(Sft.EvalEvery >= 0, $"sft.eval_every must be >= 0 (got {Sft.EvalEvery})");
        Require(Schedule.TotalUpdates > 0, $"schedule.total_updates must be > 0 (got {Schedule.TotalUpdates})");
        Require(Schedule.EvalEvery > 0, $"schedule.eval_every must be > 0 (got {Schedule.EvalEvery})");
        Require(Schedule.CheckpointEvery > 0, $"schedule.checkpoint_every must be > 0 (got {Schedule.CheckpointEvery})");
        Require(Schedule.KeepLastCheckpoints >= 1, $"schedule.keep_last_checkpoints must be >= 1 (got {Schedule.KeepLastCheckpoints})");
        if (Learner.Service.Length > 0)
        {
            Require(Learner.TinkerUrl is not null, $"learner.service must be tinker:http(s)://HOST:PORT (got '{Learner.Service}')");
            // The Tinker API has no value head or critic model (docs/tinker.md): only the group-mean baseline works there.
            Require(Ppo.Baseline == AdvantageBaseline.GroupMean,
                "learner.service: the Tinker API offers no value network (critic), so RLEF's turn-level value cannot be trained there; set ppo.baseline: group_mean with rollout.rollouts_per_problem >= 2");
            Require(Rollout.Synchronous, "learner.service samples through the service's own sampler: leave rollout.actors and rollout.max_policy_lag at their defaults");
            Require(Learner.LoraRank >= 0, $"learner.lora_rank must be >= 0 (got {Learner.LoraRank})");
        }
        errors.AddRange(SetupValidation.Validate(this));
        return errors;
    }
}

/// <summary>
/// Where the policy is trained (docs/tinker.md): in this process (the default), or on a Tinker-compatible training
/// service, e.g. <c>service: tinker:http://127.0.0.1:8200</c> for `rlef serve learner`.
/// </summary>
public sealed record LearnerConfig
{
    /// <summary>Empty = the in-process engine; <c>tinker:URL</c> = the Tinker API at URL.</summary>
    public string Service { get; init; } = "";
    /// <summary>The service's name of the base model (create_model's base_model); empty = the model directory's name.</summary>
    public string BaseModel { get; init; } = "";
    /// <summary>LoRA rank for services that train adapters (0 = send no LoRA config: full-parameter where the service allows).</summary>
    public int LoraRank { get; init; }
    /// <summary>Environment variable holding the service's API key (sent as X-API-Key and as a bearer token).</summary>
    public string ApiKeyEnv { get; init; } = "TINKER_API_KEY";

    /// <summary>The service URL of <c>tinker:URL</c>, or null.</summary>
    [JsonIgnore]
    public Uri? TinkerUrl => Service.StartsWith("tinker:", StringComparison.Ordinal)
        && Uri.TryCreate(Service["tinker:".Length..], UriKind.Absolute, out Uri? url) && url.Scheme is "http" or "https" ? url : null;
}

/// <summary>Per-turn reward R_t = r_t − β·KL_t (docs/protocol.md §2).</summary>
public sealed record RewardConfig
{
    /// <summary>β, the weight of the per-turn KL to the frozen initial policy (docs/protocol.md §2).</summary>
    public double KlCoefficient { get; init; } = 0.05;
    /// <summary>γ, the discount between turns; 1 = undiscounted Monte-Carlo returns (docs/protocol.md §2).</summary>
    public double Gamma { get; init; } = 1.0;
    /// <summary>Terminal reward when the submission passes all tests (docs/protocol.md §2).</summary>
    public double Success { get; init; } = 1.0;
    /// <summary>Terminal reward otherwise (docs/protocol.md §2).</summary>
    public double Failure { get; init; } = -1.0;
    /// <summary>Reward for a non-final turn whose reply holds no valid code (docs/protocol.md §2).</summary>
    public double InvalidCode { get; init; } = -0.2;
    /// <summary>A fenced reply whose code does not compile counts as no valid code (outcome invalid_code, the −0.2 above):
    /// the paper's penalty is for replies without valid code. false: such a turn is an exception, unpenalised.</summary>
    public bool SyntaxErrorIsInvalidCode { get; init; } = true;
}

/// <summary>The PPO update (docs/protocol.md §3).</summary>
public sealed record PpoConfig
{
    /// <summary>ε, the clip range of the policy ratio (docs/protocol.md §3).</summary>
    public double ClipEpsilon { get; init; } = 0.2;
    /// <summary>α, the clip range of the value prediction around V_old (docs/protocol.md §3).</summary>
    public double ValueClip { get; init; } = 0.2;
    /// <summary>Weight of the value loss when one optimizer step covers both networks (unspecified; the value
    /// network is separate, so 1 just means "its own loss, unscaled").</summary>
    public double ValueLossCoefficient { get; init; } = 1.0;
    /// <summary>Added to the standard deviation when normalising advantages (unspecified).</summary>
    public double AdvantageEpsilon { get; init; } = 1e-8;
    /// <summary>What is subtracted from the return G_t to make the advantage: the value network's V(c_t) (the paper),
    /// or, with several rollouts per problem, the mean first-turn return of the problem's other rollouts (a
    /// Monte-Carlo estimate of V(c_1) that needs no training; for runs too short to train a value network).</summary>
    public AdvantageBaseline Baseline { get; init; } = AdvantageBaseline.Value;
    /// <summary>
    /// Where the truncated behaviour factor w = stopgrad(min(π_θ/π_behaviour, 1)) enters (docs/protocol.md §3). The
    /// paper's form, the default: inside the ratio, r = π_θ/π_old × w, which the PPO clip then bounds. outside_clip:
    /// w × min(r·A, clip(r)·A) with r = π_θ/π_old (what this project did before; it keeps the clip on π_θ/π_old alone).
    /// </summary>
    public TruncationPlacement Truncation { get; init; } = TruncationPlacement.InsideRatio;
    /// <summary>
    /// How token terms of the policy loss are averaged. The paper does not say. token_mean, the default: one mean over
    /// all reply tokens of the minibatch (long replies weigh more). sequence_mean averages each reply's tokens and then
    /// the replies, so every turn weighs the same whatever its length; it gives a short reply's tokens large weights,
    /// and with lagging actors at a high learning rate it made the learning task collapse (docs/protocol.md §3.5).
    /// </summary>
    public LossAggregation LossAggregation { get; init; } = LossAggregation.TokenMean;
}

/// <summary>See <see cref="PpoConfig.Truncation"/>.</summary>
public enum TruncationPlacement
{
    /// <summary>r = π_θ/π_old × stopgrad(min(π_θ/π_b, 1)), clipped to [1 − ε, 1 + ε] (docs/protocol.md §3; the paper's).</summary>
    InsideRatio,
    /// <summary>stopgrad(min(π_θ/π_b, 1)) × min(r·A, clip(r)·A), r = π_θ/π_old.</summary>
    OutsideClip,
}

/// <summary>See <see cref="PpoConfig.LossAggregation"/>.</summary>
public enum LossAggregation
{
    /// <summary>Mean over each reply's tokens, then over the replies of the minibatch.</summary>
    SequenceMean,
    /// <summary>Mean over all reply tokens of the minibatch.</summary>
    TokenMean,
}

/// <summary>AdamW with linear warm-up (docs/protocol.md §3).</summary>
public sealed record OptimizerConfig
{
    /// <summary>Peak learning rate (docs/protocol.md §3).</summary>
    public double LearningRate { get; init; } = 2e-7;
    /// <summary>Peak learning rate of the value network; unset = <see cref="LearningRate"/> (the paper names one rate).
    /// A short run needs a faster value network than policy: its random head starts far from the returns.</summary>
    public double? ValueLearningRate { get; init; }
    /// <summary>Decoupled weight decay (docs/protocol.md §3).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Updates of linear warm-up from 0 to the peak learning rate (docs/protocol.md §3).</summary>
    public int WarmupSteps { get; init; } = 50;
    /// <summary>Adam β1 (unspecified; the usual 0.9).</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>Adam β2 (unspecified; 0.95 as in Llama training).</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>Adam ε (unspecified).</summary>
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Global gradient-norm clip (the paper does not give the value).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
}

/// <summary>Collecting rollouts (docs/protocol.md §1, §3).</summary>
public sealed record RolloutConfig
{
    /// <summary>Episodes collected per iteration (docs/protocol.md §3).</summary>
    public int RolloutsPerIteration { get; init; } = 1024;
    /// <summary>Rollouts of each problem in an iteration (1 in the paper, which does not say; more give
    /// <see cref="AdvantageBaseline.GroupMean"/> its groups). RolloutsPerIteration must be a multiple of it.</summary>
    public int RolloutsPerProblem { get; init; } = 1;
    /// <summary>Minibatch updates per iteration, each on RolloutsPerIteration / this episodes (docs/protocol.md §3: 4 × 256).</summary>
    public int UpdatesPerIteration { get; init; } = 4;
    /// <summary>Maximum turns per episode (docs/protocol.md §1).</summary>
    public int TurnLimit { get; init; } = 3;
    /// <summary>Sampling temperature during training (docs/protocol.md §3).</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Nucleus sampling during training; 1 = off (docs/protocol.md §3: no top-p).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Longest reply sampled per turn (unspecified).</summary>
    public int MaxReplyTokens { get; init; } = 2048;
    /// <summary>Where episodes are sampled: `embedded` (the learner's own process, the default) or inference servers,
    /// each `PROTOCOL:URL` with PROTOCOL vllm, sglang or rlef (docs/inference-servers.md). A YAML list, or one string
    /// with the entries separated by commas (kept in that form, so configs compare by value).</summary>
    [JsonConverter(typeof(CommaListConverter))]
    public string Actors { get; init; } = "embedded";
    /// <summary>How many policy versions the actors may run ahead of the learner: 0 = the synchronous trainer (sample,
    /// then update, with the same weights); k lets the next iterations' rollouts be sampled while the learner updates,
    /// by weights at most k updates-of-an-iteration old, corrected by the truncated importance factor (RLEF.md §3).</summary>
    public int MaxPolicyLag { get; init; }
    /// <summary>Directory the learner writes each new policy version to for the inference servers to load (empty =
    /// RUN/published). A vLLM server must have been started on this directory (its reload re-reads it).</summary>
    public string PublishDir { get; init; } = "";

    /// <summary>True when the run uses today's synchronous in-process path (one embedded actor, no lag).</summary>
    [JsonIgnore]
    public bool Synchronous => MaxPolicyLag == 0 && ActorEntries is ["embedded"];

    /// <summary>The entries of <see cref="Actors"/>.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ActorEntries => Actors.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>A list of strings read from a JSON/YAML list or from one comma-separated string, held as the latter.</summary>
public sealed class CommaListConverter : JsonConverter<string>
{
    public override string Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        if (reader.TokenType == System.Text.Json.JsonTokenType.String) return reader.GetString()!;
        if (reader.TokenType != System.Text.Json.JsonTokenType.StartArray)
            throw new System.Text.Json.JsonException("expected a list of strings or a comma-separated string");
        var items = new List<string>();
        while (reader.Read() && reader.TokenType != System.Text.Json.JsonTokenType.EndArray)
        {
            if (reader.TokenType != System.Text.Json.JsonTokenType.String) throw new System.Text.Json.JsonException("expected strings in the list");
            items.Add(reader.GetString()!.Trim());
        }
        return string.Join(",", items);
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, string value, System.Text.Json.JsonSerializerOptions options) =>
        writer.WriteStringValue(value);
}

/// <summary>The baseline of the advantage A_t = G_t − b_t (see <see cref="PpoConfig.Baseline"/>).</summary>
public enum AdvantageBaseline
{
    /// <summary>b_t = V(c_t) from the value network (docs/protocol.md §3).</summary>
    Value,
    /// <summary>b = the mean of G_1 over the other rollouts of the same problem in the iteration (leave-one-out, so
    /// it does not depend on the episode's own actions and the gradient stays unbiased), for every turn.</summary>
    GroupMean,
}

/// <summary>Where the value function is read (docs/protocol.md §3 and its token-level ablation).</summary>
public enum ValueLevel
{
    /// <summary>V(c_t) at the last token of each turn's prompt (the paper's method).</summary>
    Turn,
    /// <summary>V before every reply token (the ablation).</summary>
    Token,
}

/// <summary>The paper's ablations (docs/protocol.md §3).</summary>
public sealed record AblationConfig
{
    /// <summary>Single-turn RL: one turn per episode, hence no invalid-code reward.</summary>
    public bool SingleTurn { get; init; }
    /// <summary>RL without execution feedback: the feedback is only "Give it another try", always all turns.</summary>
    public bool NoExecutionFeedback { get; init; }
    /// <summary>Turn-level (paper) or token-level value function.</summary>
    public ValueLevel ValueFunction { get; init; } = ValueLevel.Turn;
}

/// <summary>Which replies of a trajectory SFT trains on.</summary>
public enum SftTarget
{
    /// <summary>The last reply of each successful trajectory (the paper's SFT baseline, docs/protocol.md §3).</summary>
    LastSuccessfulReply,
    /// <summary>Every reply of each kept trajectory (warm starts).</summary>
    AllReplies,
}

/// <summary>
/// Supervised fine-tuning on trajectories: the paper's SFT baseline (App. A.3, docs/protocol.md §3.12), or a warm start.
/// The defaults are the paper's recipe; `configs/sft-paper.yaml` spells it out.
/// </summary>
public sealed record SftConfig
{
    public SftTarget LossOn { get; init; } = SftTarget.LastSuccessfulReply;
    /// <summary>With <see cref="SftTarget.AllReplies"/>: keep only trajectories whose submission passed (unspecified).</summary>
    public bool OnlySuccessfulTrajectories { get; init; } = true;
    /// <summary>Passes over the trajectories (docs/protocol.md §3.12: the paper trained 2–3 epochs).</summary>
    public int Epochs { get; init; } = 2;
    /// <summary>Peak learning rate (docs/protocol.md §3.12: the paper swept 5e-6 and 2e-6; the default is the first).</summary>
    public double LearningRate { get; init; } = 5e-6;
    /// <summary>Sequences (trajectories) per update (docs/protocol.md §3.12: 64).</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Linear warm-up updates (docs/protocol.md §3.12: 10).</summary>
    public int WarmupSteps { get; init; } = 10;
    /// <summary>Decay after the warm-up, down to <see cref="FinalLearningRateFraction"/> at the last update
    /// (docs/protocol.md §3.12: cosine).</summary>
    public Rlef.Engine.Optim.LearningRateDecay Decay { get; init; } = Rlef.Engine.Optim.LearningRateDecay.Cosine;
    /// <summary>The decay's floor as a fraction of the peak (unspecified: 0).</summary>
    public double FinalLearningRateFraction { get; init; }
    /// <summary>Validate on data.valid every this many updates and at the end, keeping the best weights
    /// (docs/protocol.md §3.12: every 200 steps, the best kept); 0 = never (the final weights are kept).</summary>
    public int EvalEvery { get; init; } = 200;
}

/// <summary>Length of the run, evaluation and checkpoints (docs/protocol.md §3).</summary>
public sealed record ScheduleConfig
{
    /// <summary>Seed of every random stream of the run (data order, minibatches, sampling).</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Optimizer updates in the run (docs/protocol.md §3: 12,000 for 8B).</summary>
    public int TotalUpdates { get; init; } = 12_000;
    /// <summary>Evaluate on the validation split every this many updates (docs/protocol.md §3).</summary>
    public int EvalEvery { get; init; } = 800;
    /// <summary>Score the starting policy on the validation split before the first update, so the best checkpoint can
    /// be the start itself (unspecified; the project's choice).</summary>
    public bool ValidateAtStart { get; init; } = true;
    /// <summary>Checkpoint every this many updates (unspecified).</summary>
    public int CheckpointEvery { get; init; } = 100;
    /// <summary>Most recent checkpoints kept, besides the best on validation (unspecified).</summary>
    public int KeepLastCheckpoints { get; init; } = 2;
}
