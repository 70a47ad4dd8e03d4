using Rlef.Training.Config;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Ppo;

/// <summary>What one iteration's rollouts say before any update (logged once per iteration).</summary>
/// <param name="MeanReturn">Mean over episodes of G_1, the whole episode's return (terminal reward, penalties, KL).</param>
/// <param name="SolveRate">Share of episodes whose submission passed all tests.</param>
/// <param name="MeanTurnKl">Mean over turns of KL_t to the reference policy, as in the reward.</param>
/// <param name="AdvantageMean">Mean of the raw advantages G − V before normalisation.</param>
/// <param name="AdvantageStd">Their standard deviation (the normaliser).</param>
/// <param name="ExplainedVariance">Of the returns by the value predictions made during collection.</param>
public sealed record RolloutStats(int Episodes, int Turns, int ReplyTokens, double MeanReturn, double SolveRate,
    double MeanTurns, double MeanTurnKl, double InvalidCodeRate, double AdvantageMean, double AdvantageStd, double ExplainedVariance);

/// <summary>
/// One iteration's rollouts with rewards, returns and normalised advantages computed (docs/protocol.md §2–3), ready to be
/// cut into minibatches. Arrays are flat in episode → turn (→ reply token) order.
/// </summary>
public sealed class PpoBatch
{
    readonly int[] _turnStart;       // [episodes + 1]: episode e owns turns [_turnStart[e], _turnStart[e+1])
    readonly int[] _tokenStart;      // [turns + 1]: turn j owns reply tokens [_tokenStart[j], _tokenStart[j+1])
    readonly double[] _advantages;   // [value points], normalised; value points are turns or reply tokens

    PpoBatch(IReadOnlyList<TrainingEpisode> episodes, ValueLevel level, int[] turnStart, int[] tokenStart,
        double[] turnKl, double[] turnRewards, double[] turnReturns, double[] advantages, RolloutStats stats)
    {
        Episodes = episodes;
        ValueLevel = level;
        _turnStart = turnStart;
        _tokenStart = tokenStart;
        TurnKl = turnKl;
        TurnRewards = turnRewards;
        TurnReturns = turnReturns;
        _advantages = advantages;
        Stats = stats;
    }

    public IReadOnlyList<TrainingEpisode> Episodes { get; }
    public ValueLevel ValueLevel { get; }
    /// <summary>KL_t per turn (flat over episodes).</summary>
    public double[] TurnKl { get; }
    /// <summary>R_t per turn.</summary>
    public double[] TurnRewards { get; }
    /// <summary>G_t per turn.</summary>
    public double[] TurnReturns { get; }
    /// <summary>Normalised advantages per value point (per turn, or per reply token for the token-level ablation).</summary>
    public ReadOnlySpan<double> Advantages => _advantages;
    public RolloutStats Stats { get; }

    /// <summary>Computes rewards, returns and advantages for a collected batch under <paramref name="config"/>.</summary>
    public static PpoBatch Build(IReadOnlyList<TrainingEpisode> episodes, RlefConfig config)
    {
        if (episodes.Count == 0) throw new ArgumentException("an iteration needs at least one episode");
        ValueLevel level = config.Ablation.ValueFunction;
        for (int e = 0; e < episodes.Count; e++)
        {
            episodes[e].Validate(e, needTokenValues: level == ValueLevel.Token);
            if (episodes[e].Turns.Count > config.EffectiveTurnLimit)
                throw new ArgumentException($"episode {e} ('{episodes[e].ProblemId}') has {episodes[e].Turns.Count} turns, over the limit of {config.EffectiveTurnLimit}");
        }

        int turnCount = episodes.Sum(e => e.Turns.Count);
        var turnStart = new int[episodes.Count + 1];
        var tokenStart = new int[turnCount + 1];
        var turnKl = new double[turnCount];
        var turnRewards = new double[turnCount];
        var turnReturns = new double[turnCount];
        var turnValues = new double[turnCount];
        int j = 0, invalid = 0;
        double returnSum = 0;
        for (int e = 0; e < episodes.Count; e++)
        {
            TrainingEpisode episode = episodes[e];
            turnStart[e] = j;
            int turns = episode.Turns.Count;
            var kl = new double[turns];
            var invalidCode = new bool[turns];
            for (int t = 0; t < turns; t++)
            {
                TrainingTurn turn = episode.Turns[t];
                kl[t] = PpoMath.TurnKl(turn.BehaviourLogProbs, turn.ReferenceLogProbs);
                invalidCode[t] = turn.InvalidCode;
                if (turn.InvalidCode) invalid++;
                tokenStart[j + t + 1] = tokenStart[j + t] + turn.ReplyTokens.Length;
                turnValues[j + t] = turn.Value;
            }
            double[] rewards = PpoMath.TurnRewards(kl, invalidCode, episode.Solved, config.Reward, config.EffectiveInvalidCodeReward);
            double[] returns = PpoMath.Returns(rewards, config.Reward.Gamma);
            kl.CopyTo(turnKl, j);
            rewards.CopyTo(turnRewards, j);
            returns.CopyTo(turnReturns, j);
            returnSum += returns[0];
            j += turns;
        }
        turnStart[^1] = turnCount;

        // A = G − V per value point: per turn (the paper), or per reply token with the turn's return (ablation;
        // γ discounts turns, not tokens, so every token of reply t has return G_t).
        double[] advantages;
        double explained;
        if (level == ValueLevel.Turn)
        {
            double[] baselines = config.Ppo.Baseline == AdvantageBaseline.GroupMean
                ? PpoMath.GroupMeanBaselines(episodes.Select(e => e.ProblemId).ToArray(), turnStart, turnReturns, turnValues)
                : turnValues;
            advantages = new double[turnCount];
            for (int i = 0; i < turnCount; i++) advantages[i] = turnReturns[i] - baselines[i];
            explained = PpoMath.ExplainedVariance(turnValues, turnReturns);
        }
        else
        {
            int tokens = tokenStart[^1];
            advantages = new double[tokens];
            var tokenValues = new double[tokens];
            var tokenReturns = new double[tokens];
            int turnIndex = 0;
            foreach (TrainingEpisode episode in episodes)
                foreach (TrainingTurn turn in episode.Turns)
                {
                    for (int k = 0; k < turn.ReplyTokens.Length; k++)
                    {
                        int at = tokenStart[turnIndex] + k;
                        tokenValues[at] = turn.TokenValues![k];
                        tokenReturns[at] = turnReturns[turnIndex];
                        advantages[at] = tokenReturns[at] - tokenValues[at];
                    }
                    turnIndex++;
                }
            explained = PpoMath.ExplainedVariance(tokenValues, tokenReturns);
        }
        (double advMean, double advStd) = PpoMath.Normalise(advantages, config.Ppo.AdvantageEpsilon);

        var stats = new RolloutStats(
            Episodes: episodes.Count,
            Turns: turnCount,
            ReplyTokens: tokenStart[^1],
            MeanReturn: returnSum / episodes.Count,
            SolveRate: episodes.Count(e => e.Solved) / (double)episodes.Count,
            MeanTurns: turnCount / (double)episodes.Count,
            MeanTurnKl: turnKl.Average(),
            InvalidCodeRate: invalid / (double)turnCount,
            AdvantageMean: advMean,
            AdvantageStd: advStd,
            ExplainedVariance: explained);
        return new PpoBatch(episodes, level, turnStart, tokenStart, turnKl, turnRewards, turnReturns, advantages, stats);
    }

    /// <summary>
    /// The minibatch of the given episodes, in that order. π_old defaults to the behaviour policy: this trainer
    /// collects, then updates, so the policy at the start of the iteration is the one that sampled. A trainer with
    /// lagging actors recomputes π_old with the learner's weights and passes it (flat in the minibatch's token order).
    /// </summary>
    public PpoMinibatch Minibatch(IReadOnlyList<int> episodeIndices, float[]? oldLogProbs = null)
    {
        var episodes = new List<TrainingEpisode>(episodeIndices.Count);
        var turnOffsets = new List<int> { 0 };
        var behaviour = new List<float>();
        var reference = new List<float>();
        var tokenAdvantages = new List<float>();  // token-level ablation: one per token already
        var turnAdvantages = new List<double>();  // the paper: one per turn, broadcast below
        var oldValues = new List<float>();
        var returns = new List<float>();
        foreach (int e in episodeIndices)
        {
            if ((uint)e >= (uint)Episodes.Count) throw new ArgumentOutOfRangeException(nameof(episodeIndices), e, $"batch has {Episodes.Count} episodes");
            TrainingEpisode episode = Episodes[e];
            episodes.Add(episode);
            for (int t = 0; t < episode.Turns.Count; t++)
            {
                TrainingTurn turn = episode.Turns[t];
                int j = _turnStart[e] + t;
                behaviour.AddRange(turn.BehaviourLogProbs);
                reference.AddRange(turn.ReferenceLogProbs);
                turnOffsets.Add(turnOffsets[^1] + turn.ReplyTokens.Length);
                if (ValueLevel == ValueLevel.Turn)
                {
                    turnAdvantages.Add(_advantages[j]);
                    oldValues.Add(turn.Value);
                    returns.Add((float)TurnReturns[j]);
                }
                else
                {
                    for (int k = 0; k < turn.ReplyTokens.Length; k++)
                    {
                        tokenAdvantages.Add((float)_advantages[_tokenStart[j] + k]);
                        oldValues.Add(turn.TokenValues![k]);
                        returns.Add((float)TurnReturns[j]);
                    }
                }
            }
        }
        float[] advantages = ValueLevel == ValueLevel.Turn
            ? PpoMath.BroadcastToTokens(turnAdvantages.ToArray(), turnOffsets.ToArray())
            : tokenAdvantages.ToArray();
        float[] behaviourArray = behaviour.ToArray();
        if (oldLogProbs is not null && oldLogProbs.Length != behaviourArray.Length)
            throw new ArgumentException($"old log-probs: {oldLogProbs.Length} given for {behaviourArray.Length} reply tokens", nameof(oldLogProbs));
        return new PpoMinibatch(episodeIndices.ToArray(), episodes, ValueLevel, turnOffsets.ToArray(),
            oldLogProbs ?? behaviourArray, behaviourArray, reference.ToArray(), advantages,
            oldValues.ToArray(), returns.ToArray(), TokenNormaliser: behaviourArray.Length, ValuePointNormaliser: oldValues.Count);
    }
}
