using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Tests;

public class PpoBatchTests
{
    static TrainingTurn Turn(int[] prompt, int[] reply, float[] behaviour, float[] reference, float value, bool invalid = false,
        float[]? tokenValues = null) =>
        new()
        {
            PromptTokens = prompt,
            ReplyTokens = reply,
            BehaviourLogProbs = behaviour,
            ReferenceLogProbs = reference,
            Value = value,
            TokenValues = tokenValues,
            InvalidCode = invalid,
        };

    // Episode A: two turns, first invalid (KL 0.5), then solved (KL −0.25): G = [0.7875, 1.0125], V = [0.5, 0.25].
    // Episode B: one turn, failed, KL 0: G = [−1], V = [0].
    static List<TrainingEpisode> Episodes(bool tokenValues = false) =>
    [
        new("A",
        [
            Turn([10, 11, 12], [20, 21], [-1f, -2f], [-1.5f, -2.5f], 0.5f, invalid: true, tokenValues ? [0.5f, 0.4f] : null),
            Turn([13, 14], [22], [-0.5f], [-0.25f], 0.25f, tokenValues: tokenValues ? [0.25f] : null),
        ], Solved: true),
        new("B", [Turn([30], [40, 41, 42], [-1f, -1f, -1f], [-1f, -1f, -1f], 0f, tokenValues: tokenValues ? [0f, 0f, 0f] : null)], Solved: false),
    ];

    [Fact]
    public void Loss_mask_covers_reply_tokens_only_and_values_sit_on_the_last_prompt_token()
    {
        var sequence = new EpisodeSequence(Episodes()[0]);
        Assert.Equal([10, 11, 12, 20, 21, 13, 14, 22], sequence.Tokens);
        Assert.Equal([false, false, false, true, true, false, false, true], sequence.LossMask);
        Assert.Equal([2, 6], sequence.ValuePositions);
        Assert.Equal([3, 7], sequence.ReplyStarts);
    }

    [Fact]
    public void Batch_computes_rewards_returns_and_normalised_turn_advantages()
    {
        PpoBatch batch = PpoBatch.Build(Episodes(), new RlefConfig());
        Assert.Equal([0.5, -0.25, 0.0], batch.TurnKl);
        Assert.Equal(-0.225, batch.TurnRewards[0], 1e-6);
        Assert.Equal(1.0125, batch.TurnRewards[1], 1e-6);
        Assert.Equal(-1.0, batch.TurnRewards[2], 1e-6);
        Assert.Equal(0.7875, batch.TurnReturns[0], 1e-6);

        // Raw A = G − V = [0.2875, 0.7625, −1]: mean 0.0166…, normalised over the 3 turns of the batch.
        double[] raw = [0.2875, 0.7625, -1.0];
        double mean = raw.Average();
        double std = Math.Sqrt(raw.Sum(a => (a - mean) * (a - mean)) / 3);
        for (int i = 0; i < 3; i++) Assert.Equal((raw[i] - mean) / std, batch.Advantages[i], 1e-6);

        RolloutStats stats = batch.Stats;
        Assert.Equal(0.5, stats.SolveRate);
        Assert.Equal((0.7875 - 1.0) / 2, stats.MeanReturn, 1e-6);
        Assert.Equal(1.5, stats.MeanTurns);
        Assert.Equal(1.0 / 3, stats.InvalidCodeRate, 1e-12);
        Assert.Equal(6, stats.ReplyTokens);
    }

    [Fact]
    public void Minibatch_broadcasts_turn_advantages_to_reply_tokens_in_the_requested_episode_order()
    {
        PpoBatch batch = PpoBatch.Build(Episodes(), new RlefConfig());
        PpoMinibatch mb = batch.Minibatch([1, 0]);
        Assert.Equal([0, 3, 5, 6], mb.TurnTokenOffsets); // B's 3 tokens, then A's 2 and 1
        float aB = (float)batch.Advantages[2], aA1 = (float)batch.Advantages[0], aA2 = (float)batch.Advantages[1];
        Assert.Equal([aB, aB, aB, aA1, aA1, aA2], mb.Advantages);
        Assert.Equal([-1f, -1f, -1f, -1f, -2f, -0.5f], mb.BehaviourLogProbs);
        Assert.Equal(mb.BehaviourLogProbs, mb.OldLogProbs); // synchronous: π_old = π_behaviour
        Assert.Equal([0f, 0.5f, 0.25f], mb.OldValues);
        Assert.Equal(-1f, mb.Returns[0]);
        Assert.Equal(0.7875f, mb.Returns[1], 1e-6f);
    }

    [Fact]
    public void Loss_at_the_behaviour_policy_has_ratio_one_and_the_plain_gradient()
    {
        PpoBatch batch = PpoBatch.Build(Episodes(), new RlefConfig());
        PpoMinibatch mb = batch.Minibatch([0, 1]);
        PpoLossResult loss = PpoLoss.Compute(mb, mb.BehaviourLogProbs, mb.OldValues, new PpoConfig(), entropies: [1f, 1f, 1f, 2f, 2f, 2f]);
        // r = 1 everywhere: loss = −mean A over tokens, dLogProb = −A / N, no clipping, KL to old 0.
        Assert.Equal(-mb.Advantages.Average(a => (double)a), loss.PolicyLoss, 1e-6);
        for (int k = 0; k < mb.TokenCount; k++) Assert.Equal(-mb.Advantages[k] / 6f, loss.DLogProb[k], 1e-6f);
        Assert.Equal(0.0, loss.ClipFraction);
        Assert.Equal(0.0, loss.ApproxKlOld, 1e-12);
        Assert.Equal(1.5, loss.Entropy, 1e-6);
        // KL to the reference over tokens: (0.5 + 0.5 − 0.25 + 0) / 6.
        Assert.Equal(0.75 / 6, loss.KlReference, 1e-6);
        // V = V_old: value loss ½·mean (V − G)², gradient (V − G)/3.
        Assert.Equal(0.5 * (Math.Pow(0.5 - 0.7875, 2) + Math.Pow(0.25 - 1.0125, 2) + 1) / 3, loss.ValueLoss, 1e-6);
        Assert.Equal((0.5f - 0.7875f) / 3, loss.DValue[0], 1e-6f);
    }

    [Fact]
    public void Token_level_value_ablation_has_one_value_point_per_reply_token()
    {
        var config = new RlefConfig { Ablation = new AblationConfig { ValueFunction = ValueLevel.Token } };
        PpoBatch batch = PpoBatch.Build(Episodes(tokenValues: true), config);
        Assert.Equal(6, batch.Advantages.Length);
        // Raw per-token A = G_t − V_k: [0.7875 − 0.5, 0.7875 − 0.4, 1.0125 − 0.25, −1, −1, −1], normalised over tokens.
        double[] raw = [0.2875, 0.3875, 0.7625, -1, -1, -1];
        double mean = raw.Average();
        double std = Math.Sqrt(raw.Sum(a => (a - mean) * (a - mean)) / raw.Length);
        for (int k = 0; k < 6; k++) Assert.Equal((raw[k] - mean) / std, batch.Advantages[k], 1e-6);

        PpoMinibatch mb = batch.Minibatch([0, 1]);
        Assert.Equal(6, mb.ValuePointCount);
        Assert.Equal([0.5f, 0.4f, 0.25f, 0f, 0f, 0f], mb.OldValues);
        Assert.Equal(0.7875f, mb.Returns[1], 1e-6f); // every token of reply 1 has return G_1
        Assert.Throws<ArgumentException>(() => PpoBatch.Build(Episodes(tokenValues: false), config));
    }

    [Fact]
    public void Bad_episodes_are_rejected_naming_the_field()
    {
        var broken = new List<TrainingEpisode>
        {
            new("X", [Turn([1], [2, 3], [-1f], [-1f, -1f], 0f)], Solved: false),
        };
        var error = Assert.Throws<ArgumentException>(() => PpoBatch.Build(broken, new RlefConfig()));
        Assert.Contains("behaviour_log_probs", error.Message);
        Assert.Contains("'X'", error.Message);

        var tooLong = new List<TrainingEpisode>
        {
            new("Y", [Turn([1], [2], [-1f], [-1f], 0f), Turn([1], [2], [-1f], [-1f], 0f)], Solved: false),
        };
        var single = new RlefConfig { Ablation = new AblationConfig { SingleTurn = true } };
        Assert.Contains("over the limit", Assert.Throws<ArgumentException>(() => PpoBatch.Build(tooLong, single)).Message);
    }

    [Fact]
    public void Group_mean_baseline_is_the_other_rollouts_mean_first_turn_return_for_every_turn()
    {
        // Problem "A": episode A (2 turns, solved, G_1 = 0.7875) and C (1 turn, failed, G_1 = −1); problem "Q": B alone.
        List<TrainingEpisode> episodes = [Episodes()[0], Episodes()[1] with { ProblemId = "Q" }, Episodes()[1] with { ProblemId = "A" }];
        var config = new RlefConfig
        {
            Rollout = new RolloutConfig { RolloutsPerProblem = 2 },
            Ppo = new PpoConfig { Baseline = AdvantageBaseline.GroupMean },
        };
        Assert.Empty(config.Validate());
        PpoBatch batch = PpoBatch.Build(episodes, config);
        // A's turns are measured against C's return (−1), C against A's first-turn return, B (alone) keeps V = 0.
        double[] raw = [0.7875 + 1, 1.0125 + 1, -1 - 0, -1 - 0.7875];
        double mean = raw.Average();
        double std = Math.Sqrt(raw.Sum(a => (a - mean) * (a - mean)) / raw.Length);
        for (int i = 0; i < raw.Length; i++) Assert.Equal((raw[i] - mean) / std, batch.Advantages[i], 1e-6);
    }

    [Fact]
    public void Group_mean_baseline_needs_groups()
    {
        var config = new RlefConfig { Ppo = new PpoConfig { Baseline = AdvantageBaseline.GroupMean } };
        Assert.Contains(config.Validate(), e => e.Contains("rollouts_per_problem"));
        var uneven = new RlefConfig { Rollout = new RolloutConfig { RolloutsPerIteration = 10, UpdatesPerIteration = 1, RolloutsPerProblem = 4 } };
        Assert.Contains(uneven.Validate(), e => e.Contains("must be >= 1 and divide"));
    }
}
