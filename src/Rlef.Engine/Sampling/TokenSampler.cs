using Rlef.Engine.Layers;

namespace Rlef.Engine.Sampling;

/// <summary>
/// Draws one token from a row of logits with temperature, top-k and top-p. Holds scratch buffers of vocabulary size,
/// so one instance per concurrent sequence; no allocation per token.
/// </summary>
public sealed class TokenSampler
{
    private readonly float[] _probs;   // [V] unnormalised temperature-scaled probabilities
    private readonly float[] _keys;    // [V] −probability of each candidate (sort key)
    private readonly int[] _ids;       // [V] candidate token ids

    public TokenSampler(int vocabSize)
    {
        _probs = new float[vocabSize];
        _keys = new float[vocabSize];
        _ids = new int[vocabSize];
    }

    /// <summary>Returns the sampled token and its log-prob under the untruncated temperature-1 distribution.</summary>
    public (int Token, float LogProb) Sample(ReadOnlySpan<float> logits, SamplingOptions options, Random rng)
    {
        int v = logits.Length;
        if (v > _probs.Length) throw new ArgumentException($"Logits row of {v} exceeds the sampler's vocabulary {_probs.Length}.");
        float logZ = TokenLogProbs.LogSumExp(logits);
        int token = options.Temperature == 0 ? ArgMax(logits) : Draw(logits, options, rng);
        return (token, logits[token] - logZ);
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private int Draw(ReadOnlySpan<float> logits, SamplingOptions o, Random rng)
    {
        int v = logits.Length;
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = MathF.Max(max, l);
        float invT = 1f / o.Temperature;
        double z = 0;
        for (int i = 0; i < v; i++) { float p = MathF.Exp((logits[i] - max) * invT); _probs[i] = p; z += p; }

        bool truncate = o.TopK > 0 && o.TopK < v || o.TopP < 1;
        if (!truncate) return DrawFrom(_probs.AsSpan(0, v), z, rng);

        // Candidates. Every token of the top-p nucleus has p ≥ (1 − top_p)·Z / V: the tokens below that bound weigh less than
        // (1 − top_p)·Z together, so the tokens above it already reach top_p. Sorting only those keeps the sort small.
        float bound = o.TopP < 1 ? (float)((1 - o.TopP) * z / v) : 0f;
        int count = 0;
        for (int i = 0; i < v; i++)
            if (_probs[i] >= bound) { _keys[count] = -_probs[i]; _ids[count] = i; count++; }
        Array.Sort(_keys, _ids, 0, count);
        if (o.TopK > 0) count = Math.Min(count, o.TopK);
        double kept = 0;
        for (int i = 0; i < count; i++) kept -= _keys[i];
        if (o.TopP < 1)
        {
            // Smallest prefix whose renormalised mass reaches top_p.
            double target = o.TopP * kept, cum = 0;
            int i = 0;
            while (i < count) { cum -= _keys[i++]; if (cum >= target) break; }
            count = i; kept = cum;
        }
        double u = rng.NextDouble() * kept, acc = 0;
        for (int i = 0; i < count; i++)
        {
            acc -= _keys[i];
            if (u < acc) return _ids[i];
        }
        return _ids[count - 1]; // rounding at the very end of the scan
    }

    private static int DrawFrom(ReadOnlySpan<float> probs, double z, Random rng)
    {
        double u = rng.NextDouble() * z, acc = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] == 0) continue;
            acc += probs[i];
            last = i;
            if (u < acc) return i;
        }
        return last;
    }
}
