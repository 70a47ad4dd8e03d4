using Rlef.Engine.Sampling;

namespace Rlef.Training.Actors.Remote;

/// <summary>
/// Checks what a server says it sampled before the trainer trusts it: ids inside the vocabulary, one finite log-prob
/// ≤ 0 per id, no more ids than asked for. A server that answers otherwise is named in the error (it may run
/// another model or tokenizer than the learner's); the run is not fed wrong ids.
/// </summary>
public static class RemoteGeneration
{
    /// <summary>Tolerance above 0 for a log-prob rounded by the server (bf16 logits).</summary>
    const double LogProbSlack = 1e-3;

    public static Generation Build(string server, IReadOnlyList<int> ids, IReadOnlyList<double> logProbs, string? finishReason,
        SamplingOptions options, int vocabSize)
    {
        if (ids.Count != logProbs.Count)
            throw new InferenceServerException($"{server}: {ids.Count} token ids but {logProbs.Count} log-probs");
        if (ids.Count > options.MaxTokens)
            throw new InferenceServerException($"{server}: {ids.Count} tokens sampled, at most {options.MaxTokens} asked for");
        if (ids.Count == 0 && finishReason != "length")
            throw new InferenceServerException($"{server}: an empty reply (finish reason '{finishReason}')");
        var tokens = new int[ids.Count];
        var lp = new float[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            if (ids[i] < 0 || ids[i] >= vocabSize)
                throw new InferenceServerException($"{server}: token id {ids[i]} at position {i} is outside the learner's vocabulary of {vocabSize} (another model or tokenizer?)");
            if (!double.IsFinite(logProbs[i]) || logProbs[i] > LogProbSlack)
                throw new InferenceServerException($"{server}: log-prob {logProbs[i]} of token {i} is not a log-probability");
            tokens[i] = ids[i];
            lp[i] = (float)Math.Min(0, logProbs[i]);
        }
        // The finish reason follows the ids, not the server's word for it: a turn is closed exactly when its last
        // sampled id is a stop token (the next prompt then omits the end-of-turn marker, docs/inference-servers.md).
        FinishReason reason = tokens.Length > 0 && options.StopTokenIds.Contains(tokens[^1]) ? FinishReason.StopToken
            : finishReason == "length" || tokens.Length == options.MaxTokens ? FinishReason.Length
            : FinishReason.StopString;
        return new Generation(tokens, lp, reason);
    }

    /// <summary>Runs one request per sequence, at most <paramref name="concurrency"/> at once, keeping the order.</summary>
    public static async Task<IReadOnlyList<Generation>> ForEachAsync(IReadOnlyList<SampleRequest> requests, int concurrency,
        Func<SampleRequest, CancellationToken, Task<Generation>> sample, CancellationToken cancellationToken)
    {
        using var slots = new SemaphoreSlim(concurrency);
        var tasks = requests.Select(async r =>
        {
            await slots.WaitAsync(cancellationToken);
            try { return await sample(r, cancellationToken); }
            finally { slots.Release(); }
        }).ToArray();
        return await Task.WhenAll(tasks);
    }
}
