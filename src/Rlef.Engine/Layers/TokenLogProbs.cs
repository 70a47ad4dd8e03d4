namespace Rlef.Engine.Layers;

/// <summary>
/// Log-softmax over the vocabulary followed by a gather of the target token: logp[n] = logits[n,y] − logsumexp(logits[n,:]).
/// The training losses (cross-entropy, PPO's ratio) are functions of these per-token log-probs, so the backward takes
/// ∂L/∂logp[n] per token: a zero there (a prompt or padding token) gives that row no gradient.
/// </summary>
public static class TokenLogProbs
{
    // logits[N,V], targets[N] → logProbs[N], lse[N] (saved for the backward)
    public static void Forward(float[] logits, ReadOnlySpan<int> targets, Span<float> logProbs, Memory<float> lse, int rows, int vocab)
    {
        for (int n = 0; n < rows; n++)
            if ((uint)targets[n] >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), $"Target id {targets[n]} at position {n} is outside the vocabulary (size {vocab}).");
        Parallelism.ForChunks(rows, 3L * vocab, (start, end) =>
        {
            var l = lse.Span;
            for (int n = start; n < end; n++) l[n] = LogSumExp(logits.AsSpan(n * vocab, vocab));
        });
        var lseSpan = lse.Span;
        for (int n = 0; n < rows; n++) logProbs[n] = logits[n * vocab + targets[n]] - lseSpan[n];
    }

    // entropy[n] = −Σ_v p·log p = Σ_v p_v·(lse[n] − logits[n,v]) of each row's distribution (a metric: no backward).
    public static void Entropy(float[] logits, ReadOnlyMemory<float> lse, Memory<float> entropy, int rows, int vocab)
    {
        Parallelism.ForChunks(rows, 4L * vocab, (start, end) =>
        {
            var l = lse.Span; var e = entropy.Span;
            for (int n = start; n < end; n++)
            {
                e[n] = Simd.SoftmaxEntropy(logits.AsSpan(n * vocab, vocab), l[n]);
            }
        });
    }

    /// <summary>log Σ exp(x), stable.</summary>
    public static float LogSumExp(ReadOnlySpan<float> x)
    {
        float max = Simd.Max(x);
        return max + MathF.Log(Simd.SumExpShifted(x, max));
    }

    // In place: logits[N,V] becomes ∂L/∂logits = dlogp[n]·(onehot(y) − softmax). Rows with dlogp = 0 become zero.
    public static void Backward(float[] logits, ReadOnlyMemory<float> lse, ReadOnlyMemory<float> dLogProbs, ReadOnlyMemory<int> targets, int rows, int vocab)
    {
        Parallelism.ForChunks(rows, 3L * vocab, (start, end) =>
        {
            var l = lse.Span; var d = dLogProbs.Span; var y = targets.Span;
            for (int n = start; n < end; n++)
            {
                var row = logits.AsSpan(n * vocab, vocab);
                float g = d[n];
                if (g == 0) { row.Clear(); continue; }
                Simd.ExpShiftedScaleInPlace(row, l[n], -g);
                row[y[n]] += g;
            }
        });
    }
}
