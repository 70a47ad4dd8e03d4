using Rlef.Training.Config;

namespace Rlef.Training.Ppo;

// The arithmetic of RLEF's PPO (docs/protocol.md §2–3) over plain arrays, in the order it happens:
//   1. per-turn KL and reward      R_t = r_t − β·KL_t,  KL_t = mean_k (log π_b − log ρ) over reply t's tokens
//   2. Monte-Carlo returns         G_t = Σ_{i≥t} γ^{i−t} R_i
//   3. advantages                  A_t = G_t − V(c_t), normalised over the batch, shared by reply t's tokens
//   4. clipped policy surrogate    on reply tokens only, with the truncated behaviour factor
//   5. clipped value loss          ½·max((V−G)², (clip(V, V_old ± α) − G)²)
// The losses come with their exact gradients with respect to each token's log-prob and each value prediction:
// that is the seam to the engine, which back-propagates from d(loss)/d(log π(token)) through log-softmax and the
// model, and from d(loss)/d(V) through the value head. Nothing here knows about models.

/// <summary>The policy loss of a minibatch and its gradient with respect to every reply token's log-prob.</summary>
/// <param name="Loss">−mean over tokens of w·min(r·A, clip(r, 1±ε)·A).</param>
/// <param name="DLogProb">d Loss / d log π_θ(token), one per reply token, in the minibatch's token order.</param>
/// <param name="ApproxKlOld">k3 estimate of KL(π_old ‖ π_θ): mean of (r − 1) − log r.</param>
/// <param name="ClipFraction">Share of tokens with |r − 1| &gt; ε.</param>
/// <param name="TruncatedFraction">Share of tokens whose behaviour factor min(π_θ/π_b, 1) is below 1.</param>
public sealed record PolicyLossResult(double Loss, float[] DLogProb, double ApproxKlOld, double ClipFraction, double TruncatedFraction);

/// <summary>The value loss of a minibatch and its gradient with respect to every value prediction.</summary>
/// <param name="Loss">Mean over value points of ½·max((V−G)², (clip(V, V_old ± α) − G)²).</param>
/// <param name="DValue">d Loss / d V, one per value point (turn, or reply token for the token-level ablation).</param>
/// <param name="ClipFraction">Share of value points where the clipped term is the larger one (no gradient).</param>
public sealed record ValueLossResult(double Loss, float[] DValue, double ClipFraction);

public static class PpoMath
{
    // ---- 1. rewards (docs/protocol.md §2) ----

    /// <summary>KL_t: the mean over the reply's tokens of log π − log ρ (the log of the ratio of geometric means).</summary>
    public static double TurnKl(ReadOnlySpan<float> policyLogProbs, ReadOnlySpan<float> referenceLogProbs)
    {
        if (policyLogProbs.Length != referenceLogProbs.Length) throw new ArgumentException("log-prob arrays differ in length");
        if (policyLogProbs.Length == 0) throw new ArgumentException("a reply has at least one token");
        double sum = 0;
        for (int k = 0; k < policyLogProbs.Length; k++) sum += policyLogProbs[k] - (double)referenceLogProbs[k];
        return sum / policyLogProbs.Length;
    }

    /// <summary>
    /// R_t = r_t − β·KL_t for the turns of one episode. r on the final turn is the terminal reward (success or
    /// failure of the submission on all tests); on earlier turns it is <paramref name="invalidCodeReward"/> when the
    /// reply held no valid code, else 0. The final turn gets no invalid-code reward: its −1 already says it.
    /// </summary>
    public static double[] TurnRewards(ReadOnlySpan<double> turnKl, ReadOnlySpan<bool> invalidCode, bool solved,
        RewardConfig reward, double invalidCodeReward)
    {
        if (turnKl.Length != invalidCode.Length) throw new ArgumentException("one KL and one invalid flag per turn");
        int turns = turnKl.Length;
        var rewards = new double[turns];
        for (int t = 0; t < turns; t++)
        {
            bool final = t == turns - 1;
            double r = final ? (solved ? reward.Success : reward.Failure) : (invalidCode[t] ? invalidCodeReward : 0.0);
            rewards[t] = r - reward.KlCoefficient * turnKl[t];
        }
        return rewards;
    }

    // ---- 2. returns ----

    /// <summary>Monte-Carlo returns G_t = R_t + γ·G_{t+1}, G after the last turn = 0.</summary>
    public static double[] Returns(ReadOnlySpan<double> rewards, double gamma)
    {
        var returns = new double[rewards.Length];
        double g = 0;
        for (int t = rewards.Length - 1; t >= 0; t--)
        {
            g = rewards[t] + gamma * g;
            returns[t] = g;
        }
        return returns;
    }

    // ---- 3. advantages ----

    /// <summary>
    /// The group-mean baseline per turn: for episode e, the mean first-turn return G_1 of the other episodes of the
    /// same problem (leave-one-out: independent of e's own actions, so the policy gradient stays unbiased), used for
    /// every turn of e. An episode whose problem has no other rollout in the batch keeps its value-network baseline.
    /// </summary>
    /// <param name="problemIds">Per episode.</param>
    /// <param name="turnStart">[episodes + 1]: episode e owns turns [turnStart[e], turnStart[e+1]).</param>
    /// <param name="turnReturns">G_t per turn (flat).</param>
    /// <param name="turnValues">V(c_t) per turn (flat), the fallback.</param>
    public static double[] GroupMeanBaselines(IReadOnlyList<string> problemIds, ReadOnlySpan<int> turnStart,
        ReadOnlySpan<double> turnReturns, ReadOnlySpan<double> turnValues)
    {
        if (turnStart.Length != problemIds.Count + 1) throw new ArgumentException("need episodes + 1 turn offsets");
        var sums = new Dictionary<string, (double Sum, int Count)>(StringComparer.Ordinal);
        for (int e = 0; e < problemIds.Count; e++)
        {
            var (sum, count) = sums.GetValueOrDefault(problemIds[e]);
            sums[problemIds[e]] = (sum + turnReturns[turnStart[e]], count + 1);
        }
        var baselines = turnValues.ToArray();
        for (int e = 0; e < problemIds.Count; e++)
        {
            var (sum, count) = sums[problemIds[e]];
            if (count < 2) continue;
            double others = (sum - turnReturns[turnStart[e]]) / (count - 1);
            for (int j = turnStart[e]; j < turnStart[e + 1]; j++) baselines[j] = others;
        }
        return baselines;
    }

    /// <summary>
    /// Normalises in place to (x − mean) / (std + ε), mean and population std over all entries. The trainer calls
    /// it once per iteration on the advantages of every turn in the collected batch (every reply token for the
    /// token-level ablation), before minibatching: docs/protocol.md §3 leaves "normalised over the batch" open, and the whole
    /// batch gives the most stable statistics and the same scale in each of the iteration's updates.
    /// </summary>
    public static (double Mean, double Std) Normalise(Span<double> values, double epsilon)
    {
        if (values.Length == 0) return (0, 0);
        double mean = 0;
        foreach (double v in values) mean += v;
        mean /= values.Length;
        double variance = 0;
        foreach (double v in values) variance += (v - mean) * (v - mean);
        double std = Math.Sqrt(variance / values.Length);
        for (int i = 0; i < values.Length; i++) values[i] = (values[i] - mean) / (std + epsilon);
        return (mean, std);
    }

    /// <summary>Copies per-turn values onto each turn's reply tokens; turn j owns tokens [offsets[j], offsets[j+1]).</summary>
    public static float[] BroadcastToTokens(ReadOnlySpan<double> perTurn, ReadOnlySpan<int> turnTokenOffsets)
    {
        if (turnTokenOffsets.Length != perTurn.Length + 1) throw new ArgumentException("need turns + 1 token offsets");
        var perToken = new float[turnTokenOffsets[^1]];
        for (int j = 0; j < perTurn.Length; j++)
            perToken.AsSpan(turnTokenOffsets[j], turnTokenOffsets[j + 1] - turnTokenOffsets[j]).Fill((float)perTurn[j]);
        return perToken;
    }

    // ---- 4. policy loss ----

    /// <summary>
    /// The clipped surrogate over reply tokens (prompt and feedback tokens never reach this function: the mask is
    /// the choice of tokens). Per token, r = π_θ/π_old and the truncated behaviour factor w = stopgrad(min(π_θ/π_b, 1))
    /// (docs/protocol.md §3); loss = −mean_k w·min(r·A, clip(r, 1−ε, 1+ε)·A). The trust region is PPO's usual one on π_θ/π_old;
    /// w, a constant in [0, 1], only down-weights tokens that the learner has made less likely than the actor did,
    /// so it can multiply both branches of the min without changing which one is taken. Tokens count equally
    /// (a mean over all reply tokens of the minibatch, not per reply first; the paper does not say).
    /// Gradient: the min takes the clipped branch, a constant, exactly when (A &gt; 0 and r &gt; 1+ε) or
    /// (A &lt; 0 and r &lt; 1−ε); otherwise d(w·r·A)/d log π_θ = w·r·A since dr/d log π_θ = r.
    /// </summary>
    /// <param name="normaliser">The token count of the whole minibatch when these tokens are only part of it (a
    /// micro-batch): every mean is then this part's share of the minibatch's mean, and the parts add up.
    /// Default: the number of tokens given.</param>
    public static PolicyLossResult PolicyLoss(ReadOnlySpan<float> logProbs, ReadOnlySpan<float> oldLogProbs,
        ReadOnlySpan<float> behaviourLogProbs, ReadOnlySpan<float> advantages, double clipEpsilon, int? normaliser = null)
    {
        int n = logProbs.Length;
        if (oldLogProbs.Length != n || behaviourLogProbs.Length != n || advantages.Length != n)
            throw new ArgumentException($"policy loss: {n} log-probs but {oldLogProbs.Length} old, {behaviourLogProbs.Length} behaviour, {advantages.Length} advantages");
        if (n == 0) throw new ArgumentException("policy loss over no tokens");
        double count = Normaliser(normaliser, n);

        var dLogProb = new float[n];
        double loss = 0, approxKl = 0;
        int clipped = 0, truncated = 0;
        for (int k = 0; k < n; k++)
        {
            double logRatio = logProbs[k] - (double)oldLogProbs[k];
            double ratio = Math.Exp(logRatio);
            double behaviourRatio = Math.Exp(logProbs[k] - (double)behaviourLogProbs[k]);
            double w = Math.Min(behaviourRatio, 1.0);
            double a = advantages[k];

            double unclippedTerm = ratio * a;
            double clippedTerm = Math.Clamp(ratio, 1 - clipEpsilon, 1 + clipEpsilon) * a;
            bool gradientFlows = unclippedTerm <= clippedTerm;
            loss -= w * Math.Min(unclippedTerm, clippedTerm);
            dLogProb[k] = gradientFlows ? (float)(-w * ratio * a / count) : 0f;

            approxKl += ratio - 1 - logRatio;
            if (Math.Abs(ratio - 1) > clipEpsilon) clipped++;
            if (behaviourRatio < 1) truncated++;
        }
        return new PolicyLossResult(loss / count, dLogProb, approxKl / count, clipped / count, truncated / count);
    }

    // ---- 5. value loss ----

    /// <summary>
    /// ½·max((V−G)², (V_old + clip(V − V_old, −α, α) − G)²), averaged over value points. Gradient: V − G where the
    /// unclipped term is at least as large; otherwise the clipped term wins, which only happens with V outside
    /// V_old ± α (inside, both terms are equal), where the clipped prediction does not depend on V: 0.
    /// </summary>
    /// <param name="normaliser">The value-point count of the whole minibatch for a micro-batch (see <see cref="PolicyLoss"/>).</param>
    public static ValueLossResult ValueLoss(ReadOnlySpan<float> values, ReadOnlySpan<float> oldValues,
        ReadOnlySpan<float> returns, double valueClip, int? normaliser = null)
    {
        int n = values.Length;
        if (oldValues.Length != n || returns.Length != n)
            throw new ArgumentException($"value loss: {n} values but {oldValues.Length} old values and {returns.Length} returns");
        if (n == 0) throw new ArgumentException("value loss over no value points");
        double count = Normaliser(normaliser, n);

        var dValue = new float[n];
        double loss = 0;
        int clipped = 0;
        for (int i = 0; i < n; i++)
        {
            double v = values[i], g = returns[i], vOld = oldValues[i];
            double unclippedSq = (v - g) * (v - g);
            double vClipped = vOld + Math.Clamp(v - vOld, -valueClip, valueClip);
            double clippedSq = (vClipped - g) * (vClipped - g);
            if (unclippedSq >= clippedSq)
            {
                loss += 0.5 * unclippedSq;
                dValue[i] = (float)((v - g) / count);
            }
            else
            {
                loss += 0.5 * clippedSq;
                clipped++;
            }
        }
        return new ValueLossResult(loss / count, dValue, clipped / count);
    }

    static double Normaliser(int? normaliser, int n) =>
        normaliser is null ? n
        : normaliser >= n ? normaliser.Value
        : throw new ArgumentOutOfRangeException(nameof(normaliser), normaliser, $"smaller than the {n} entries given");

    // ---- diagnostics ----

    /// <summary>1 − Var(G − V)/Var(G): how much of the returns' variance the value predictions explain.</summary>
    public static double ExplainedVariance(ReadOnlySpan<double> values, ReadOnlySpan<double> returns)
    {
        if (values.Length != returns.Length || values.Length == 0) throw new ArgumentException("one value per return");
        double meanG = 0, meanD = 0;
        for (int i = 0; i < returns.Length; i++) { meanG += returns[i]; meanD += returns[i] - values[i]; }
        meanG /= returns.Length;
        meanD /= returns.Length;
        double varG = 0, varD = 0;
        for (int i = 0; i < returns.Length; i++)
        {
            varG += (returns[i] - meanG) * (returns[i] - meanG);
            double d = returns[i] - values[i] - meanD;
            varD += d * d;
        }
        return varG == 0 ? double.NaN : 1 - varD / varG;
    }
}
