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
        Require(Rollout.Temperature > 0, $"rollout.temperature must be > 0 (got {Rollout.Temperature})");
        Require(Rollout.TopP is > 0 and <= 1, $"rollout.top_p must be in (0, 1] (got {Rollout.TopP})");
        Require(Rollout.MaxReplyTokens > 0, $"rollout.max_reply_tokens must be > 0 (got {Rollout.MaxReplyTokens})");
        Require(!(Ablation.SingleTurn && Ablation.NoExecutionFeedback),
            "ablation.single_turn and ablation.no_execution_feedback exclude each other (a single turn gets no feedback)");
        Require(Sft.Epochs > 0, $"sft.epochs must be > 0 (got {Sft.Epochs})");
        Require(Sft.LearningRate > 0, $"sft.learning_rate must be > 0 (got {Sft.LearningRate})");
        Require(Schedule.TotalUpdates > 0, $"schedule.total_updates must be > 0 (got {Schedule.TotalUpdates})");
        Require(Schedule.EvalEvery > 0, $"schedule.eval_every must be > 0 (got {Schedule.EvalEvery})");
        Require(Schedule.CheckpointEvery > 0, $"schedule.checkpoint_every must be > 0 (got {Schedule.CheckpointEvery})");
        Require(Schedule.KeepLastCheckpoints >= 1, $"schedule.keep_last_checkpoints must be >= 1 (got {Schedule.KeepLastCheckpoints})");
        errors.AddRange(SetupValidation.Validate(this));
        return errors;
    }
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

/// <summary>Supervised fine-tuning on trajectories (the paper's SFT baseline, or a warm start).</summary>
public sealed record SftConfig
{
    public SftTarget LossOn { get; init; } = SftTarget.LastSuccessfulReply;
    /// <summary>With <see cref="SftTarget.AllReplies"/>: keep only trajectories whose submission passed (unspecified).</summary>
    public bool OnlySuccessfulTrajectories { get; init; } = true;
    /// <summary>Passes over the trajectories (unspecified).</summary>
    public int Epochs { get; init; } = 1;
    /// <summary>Peak learning rate for SFT (unspecified; the RL value).</summary>
    public double LearningRate { get; init; } = 2e-7;
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
