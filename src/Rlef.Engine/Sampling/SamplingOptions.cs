namespace Rlef.Engine.Sampling;

/// <summary>
/// How to pick the next token. Temperature 0 is greedy. Top-k (0 = off) is applied before top-p (1 = off), each on the
/// temperature-scaled distribution renormalised over what remains, as Hugging Face and vLLM do.
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 1f;
    public float TopP { get; init; } = 1f;
    public int TopK { get; init; }
    public int MaxTokens { get; init; } = 256;
    /// <summary>Generation of a sequence ends after it samples one of these (the stop token is kept in the output).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Generation of a sequence ends once its decoded reply contains one of these (needs a decoder).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Seed of the random draws; sequence i of a batch draws from its own stream derived from (Seed, i).</summary>
    public int Seed { get; init; }

    public void Validate()
    {
        if (!(Temperature >= 0) || float.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be ≥ 0, got {Temperature}.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {TopP}.");
        if (TopK < 0) throw new ArgumentException($"top_k must be ≥ 0 (0 = off), got {TopK}.");
        if (MaxTokens <= 0) throw new ArgumentException($"max_tokens must be positive, got {MaxTokens}.");
        foreach (var s in StopStrings)
            if (string.IsNullOrEmpty(s)) throw new ArgumentException("Stop strings must not be empty.");
    }
}

public enum FinishReason
{
    /// <summary>Sampled a stop token.</summary>
    StopToken,
    /// <summary>The decoded reply contains a stop string.</summary>
    StopString,
    /// <summary>Reached MaxTokens.</summary>
    Length,
}

/// <summary>
/// One generated continuation. Tokens are exactly the sampled ids (a stop token or the token that completed a stop
/// string included), so that training sees the same ids. LogProbs[i] = log p(Tokens[i] | prompt, Tokens[..i]) under the
/// model at temperature 1 without top-k/top-p truncation: the same quantity teacher-forced scoring returns.
/// </summary>
public sealed record Generation(int[] Tokens, float[] LogProbs, FinishReason FinishReason);
