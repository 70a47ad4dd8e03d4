namespace Rlef.Serving.Learner;

/// <summary>
/// The Tinker API's losses (docs/tinker.md "Loss functions"): per token of one datum, the loss and its derivative
/// with respect to the token's log-prob under the current weights. Sums, not means, as the service defines them.
/// </summary>
public static class LossFunctions
{
    public static readonly string[] Names = ["cross_entropy", "importance_sampling", "ppo"];

    /// <summary>The loss inputs <paramref name="lossFn"/> needs besides target_tokens.</summary>
    public static string[] Required(string lossFn) => lossFn switch
    {
        "cross_entropy" => [],
        _ => ["logprobs", "advantages"],
    };

    /// <param name="logProbs">log π_θ(target token) at each input position.</param>
    /// <param name="elementwise">Receives each position's loss.</param>
    /// <param name="dLogProb">Receives d(loss)/d(logProbs[i]).</param>
    public static void Compute(string lossFn, ReadOnlySpan<float> logProbs, IReadOnlyDictionary<string, float[]> inputs,
        double clipLow, double clipHigh, Span<float> elementwise, Span<float> dLogProb)
    {
        int n = logProbs.Length;
        switch (lossFn)
        {
            case "cross_entropy":
            {
                float[]? weights = inputs.GetValueOrDefault("weights");
                for (int i = 0; i < n; i++)
                {
                    double w = weights?[i] ?? 1.0;
                    elementwise[i] = (float)(-w * logProbs[i]);
                    dLogProb[i] = (float)-w;
                }
                break;
            }
            case "importance_sampling":
            {
                float[] sampled = inputs["logprobs"], advantages = inputs["advantages"];
                for (int i = 0; i < n; i++)
                {
                    if (advantages[i] == 0) { elementwise[i] = 0; dLogProb[i] = 0; continue; }
                    double ratio = Math.Exp(logProbs[i] - (double)sampled[i]);
                    elementwise[i] = (float)(-ratio * advantages[i]);
                    dLogProb[i] = (float)(-ratio * advantages[i]);
                }
                break;
            }
            case "ppo":
            {
                float[] sampled = inputs["logprobs"], advantages = inputs["advantages"];
                for (int i = 0; i < n; i++)
                {
                    double a = advantages[i];
                    if (a == 0) { elementwise[i] = 0; dLogProb[i] = 0; continue; }
                    double ratio = Math.Exp(logProbs[i] - (double)sampled[i]);
                    double unclipped = ratio * a, clipped = Math.Clamp(ratio, clipLow, clipHigh) * a;
                    // min(r·A, clip(r)·A): the gradient flows through the unclipped term where it is the smaller.
                    bool flows = unclipped <= clipped;
                    elementwise[i] = (float)-Math.Min(unclipped, clipped);
                    dLogProb[i] = flows ? (float)(-ratio * a) : 0f;
                }
                break;
            }
            default:
                throw new ArgumentException($"unknown loss_fn '{lossFn}'");
        }
    }
}
