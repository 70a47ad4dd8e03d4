using Rlef.Environment.Episodes;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Tests;

// Hand-computed cases for docs/protocol.md §2–3. β = 0.05, ε = 0.2, α = 0.2 unless a test says otherwise.
public class PpoMathTests
{
    static readonly RewardConfig Paper = new();
    const double Tol = 1e-6;

    [Fact]
    public void TurnKl_is_the_mean_token_log_ratio_not_the_sum()
    {
        // log π − log ρ = 0.5 and 1.5 → mean 1.0 (the sum would be 2.0).
        Assert.Equal(1.0, PpoMath.TurnKl([-1f, -0.5f], [-1.5f, -2f]), Tol);
    }

    [Fact]
    public void One_turn_episode_gets_the_terminal_reward_minus_kl()
    {
        double[] rewards = PpoMath.TurnRewards([0.5], [false], solved: true, Paper, invalidCodeReward: -0.2);
        Assert.Equal(1 - 0.05 * 0.5, rewards[0], Tol); // 0.975
        Assert.Equal(0.975, PpoMath.Returns(rewards, 1.0)[0], Tol);

        double[] failed = PpoMath.TurnRewards([0.0], [false], solved: false, Paper, -0.2);
        Assert.Equal(-1.0, failed[0], Tol);
    }

    [Fact]
    public void Two_turn_episode_with_invalid_first_turn_and_kl()
    {
        // Turn 1: invalid code, KL = mean(0.5, 0.5) = 0.5 → R1 = −0.2 − 0.05·0.5 = −0.225.
        // Turn 2: solved, KL = −0.25 → R2 = 1 + 0.0125 = 1.0125. G2 = 1.0125, G1 = 0.7875.
        double kl1 = PpoMath.TurnKl([-1f, -2f], [-1.5f, -2.5f]);
        double kl2 = PpoMath.TurnKl([-0.5f], [-0.25f]);
        double[] rewards = PpoMath.TurnRewards([kl1, kl2], [true, false], solved: true, Paper, -0.2);
        Assert.Equal(-0.225, rewards[0], Tol);
        Assert.Equal(1.0125, rewards[1], Tol);
        double[] returns = PpoMath.Returns(rewards, 1.0);
        Assert.Equal(0.7875, returns[0], Tol);
        Assert.Equal(1.0125, returns[1], Tol);
    }

    [Fact]
    public void Three_turn_episode_returns_sum_the_remaining_rewards()
    {
        // Invalid, then valid but failing public tests, then a failing submission: R = [−0.2, 0, −1].
        double[] rewards = PpoMath.TurnRewards([0, 0, 0], [true, false, false], solved: false, Paper, -0.2);
        Assert.Equal([-0.2, 0.0, -1.0], rewards);
        double[] returns = PpoMath.Returns(rewards, 1.0);
        Assert.Equal(-1.2, returns[0], Tol);
        Assert.Equal(-1.0, returns[1], Tol);
        Assert.Equal(-1.0, returns[2], Tol);
    }

    [Fact]
    public void Invalid_code_on_the_final_turn_gets_only_the_terminal_reward()
    {
        double[] rewards = PpoMath.TurnRewards([0, 0], [true, true], solved: false, Paper, -0.2);
        Assert.Equal([-0.2, -1.0], rewards);
    }

    [Fact]
    public void Single_turn_ablation_has_no_invalid_code_reward()
    {
        var config = new RlefConfig { Ablation = new AblationConfig { SingleTurn = true } };
        Assert.Equal(1, config.EffectiveTurnLimit);
        Assert.Equal(0.0, config.EffectiveInvalidCodeReward);
        Assert.Equal(3, new RlefConfig().EffectiveTurnLimit);
        Assert.Equal(-0.2, new RlefConfig().EffectiveInvalidCodeReward);
        // Without execution feedback the episode gets "Give it another try." and runs all turns (docs/protocol.md §3).
        Assert.Equal(FeedbackMode.Real, new RolloutCollector(null!, null!, new RlefConfig()).EpisodeOptions.Feedback);
        Assert.Equal(FeedbackMode.None,
            new RolloutCollector(null!, null!, new RlefConfig { Ablation = new AblationConfig { NoExecutionFeedback = true } }).EpisodeOptions.Feedback);
    }

    [Fact]
    public void Discounted_returns()
    {
        double[] returns = PpoMath.Returns([1, 2, 4], 0.5);
        Assert.Equal([3.0, 4.0, 4.0], returns); // 4; 2 + 0.5·4; 1 + 0.5·4
    }

    [Fact]
    public void Advantages_are_normalised_with_mean_and_population_std()
    {
        double[] a = [1, 2, 3, 4];
        (double mean, double std) = PpoMath.Normalise(a, 1e-8);
        Assert.Equal(2.5, mean, Tol);
        Assert.Equal(Math.Sqrt(1.25), std, Tol);
        Assert.Equal(-1.5 / Math.Sqrt(1.25), a[0], Tol);
        Assert.Equal(0.5 / Math.Sqrt(1.25), a[2], Tol);
        Assert.Equal(0.0, a.Average(), Tol);
    }

    [Fact]
    public void Constant_advantages_normalise_to_zero_not_nan()
    {
        double[] a = [0.3, 0.3, 0.3];
        PpoMath.Normalise(a, 1e-8);
        Assert.All(a, x => Assert.Equal(0.0, x, Tol));
    }

    [Fact]
    public void Broadcast_gives_every_reply_token_its_turns_advantage()
    {
        float[] perToken = PpoMath.BroadcastToTokens([0.5, -1.0, 2.0], [0, 2, 3, 6]);
        Assert.Equal([0.5f, 0.5f, -1f, 2f, 2f, 2f], perToken);
    }

    // The four regions of the clipped surrogate, one token each (N = 1), with the behaviour policy equal to π_θ
    // so that the truncated factor is 1. r = π_θ/π_old.
    [Theory]
    [InlineData(1.0, 1.1, -1.1, -1.1)]   // A > 0, inside: loss −r·A, gradient −r·A
    [InlineData(1.0, 1.5, -1.2, 0.0)]    // A > 0, r > 1+ε: clipped at 1.2, no gradient
    [InlineData(1.0, 0.5, -0.5, -0.5)]   // A > 0, r < 1−ε: min picks r·A, gradient flows
    [InlineData(-1.0, 0.9, 0.9, 0.9)]    // A < 0, inside
    [InlineData(-1.0, 0.5, 0.8, 0.0)]    // A < 0, r < 1−ε: clipped at 0.8, no gradient
    [InlineData(-1.0, 1.5, 1.5, 1.5)]    // A < 0, r > 1+ε: min picks r·A, gradient flows
    public void Clipped_surrogate_regions(double advantage, double ratio, double expectedLoss, double expectedGrad)
    {
        float oldLp = -1f;
        float lp = (float)(oldLp + Math.Log(ratio));
        PolicyLossResult result = PpoMath.PolicyLoss([lp], [oldLp], [lp], [(float)advantage], 0.2);
        Assert.Equal(expectedLoss, result.Loss, 1e-5);
        Assert.Equal(expectedGrad, result.DLogProb[0], 1e-5);
        Assert.Equal(Math.Abs(ratio - 1) > 0.2 ? 1.0 : 0.0, result.ClipFraction);
    }

    [Fact]
    public void Truncated_behaviour_factor_scales_tokens_the_learner_made_less_likely()
    {
        // r = π_θ/π_old = 1; π_θ/π_b = 0.5 → w = 0.5: loss −0.5·A, gradient −0.5·A (w is a constant).
        float lp = -1f;
        float behaviour = (float)(-1 + Math.Log(2));
        PolicyLossResult truncated = PpoMath.PolicyLoss([lp], [lp], [behaviour], [1f], 0.2);
        Assert.Equal(-0.5, truncated.Loss, 1e-5);
        Assert.Equal(-0.5, truncated.DLogProb[0], 1e-5);
        Assert.Equal(1.0, truncated.TruncatedFraction);

        // π_θ/π_b = 2 → min(2, 1) = 1: no effect.
        float lowBehaviour = (float)(-1 - Math.Log(2));
        PolicyLossResult capped = PpoMath.PolicyLoss([lp], [lp], [lowBehaviour], [1f], 0.2);
        Assert.Equal(-1.0, capped.Loss, 1e-5);
        Assert.Equal(-1.0, capped.DLogProb[0], 1e-5);
        Assert.Equal(0.0, capped.TruncatedFraction);
    }

    [Fact]
    public void Policy_loss_is_a_mean_over_tokens()
    {
        // Two tokens at r = 1 with A = 1 and A = −3: loss = −(1 − 3)/2 = 1, gradients −A/2.
        PolicyLossResult result = PpoMath.PolicyLoss([-1f, -2f], [-1f, -2f], [-1f, -2f], [1f, -3f], 0.2);
        Assert.Equal(1.0, result.Loss, 1e-6);
        Assert.Equal([-0.5f, 1.5f], result.DLogProb);
        Assert.Equal(0.0, result.ApproxKlOld, 1e-12);
    }

    [Fact]
    public void Approx_kl_is_the_k3_estimator()
    {
        // r = 2: (r − 1) − log r = 1 − ln 2.
        float lp = (float)(-1 + Math.Log(2));
        PolicyLossResult result = PpoMath.PolicyLoss([lp], [-1f], [lp], [0f], 0.2);
        Assert.Equal(1 - Math.Log(2), result.ApproxKlOld, 1e-6);
    }

    [Theory]
    [InlineData(0.5, 0.4, 1.0, 0.125, -0.5, false)]   // inside V_old ± α: plain squared error
    [InlineData(1.0, 0.4, 1.0, 0.08, 0.0, true)]      // V jumped to G: clipped (0.6 − 1)² wins, no gradient
    [InlineData(-0.5, 0.4, 1.0, 1.125, -1.5, false)]  // moved away from G: unclipped (1.5²) is larger
    [InlineData(1.5, 0.4, 1.0, 0.125, 0.5, false)]    // overshot: 0.5² > (0.6 − 1)²
    public void Clipped_value_loss(double v, double vOld, double g, double expectedLoss, double expectedGrad, bool clipped)
    {
        ValueLossResult result = PpoMath.ValueLoss([(float)v], [(float)vOld], [(float)g], 0.2);
        Assert.Equal(expectedLoss, result.Loss, 1e-6);
        Assert.Equal(expectedGrad, result.DValue[0], 1e-6);
        Assert.Equal(clipped ? 1.0 : 0.0, result.ClipFraction);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => PpoMath.PolicyLoss([0f, 0f], [0f], [0f, 0f], [0f, 0f], 0.2));
        Assert.Throws<ArgumentException>(() => PpoMath.ValueLoss([0f], [0f, 0f], [0f], 0.2));
        Assert.Throws<ArgumentException>(() => PpoMath.TurnKl([0f], []));
    }
}
