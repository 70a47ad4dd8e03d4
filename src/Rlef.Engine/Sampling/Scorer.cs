using Rlef.Engine.Kernels;
using Rlef.Engine.Model;

namespace Rlef.Engine.Sampling;

/// <summary>
/// Teacher-forced scoring of whole sequences: the log-probs a reference or behaviour policy gives to tokens that are
/// already known, and the value model's estimates. Sequences are right-padded and grouped into batches of at most
/// <c>maxBatchTokens</c> padded tokens.
/// </summary>
public static class Scorer
{
    /// <summary>result[i][t] = log p(sequences[i][t+1] | sequences[i][0..t]), t = 0 … length−2.</summary>
    public static float[][] LogProbs(LlamaModel model, IReadOnlyList<IReadOnlyList<int>> sequences, int maxBatchTokens = 4096) =>
        LogProbs(model, sequences, Batches(sequences, maxBatchTokens));

    /// <summary>result[i][t] = V(sequences[i][0..t]) for every position t of a value model.</summary>
    public static float[][] Values(LlamaModel valueModel, IReadOnlyList<IReadOnlyList<int>> sequences, int maxBatchTokens = 4096) =>
        Values(valueModel, sequences, Batches(sequences, maxBatchTokens));

    /// <summary>
    /// <see cref="LogProbs(LlamaModel, IReadOnlyList{IReadOnlyList{int}}, int)"/> of a language model and
    /// <see cref="Values(LlamaModel, IReadOnlyList{IReadOnlyList{int}}, int)"/> of a value model on the same sequences
    /// (PPO's reference policy and value network), with the same results bit for bit (the kernels give the same bits on
    /// one thread as on several). The batches are grouped once, and the two models run side by side, one per engine
    /// thread, instead of one after the other with every kernel split over the threads, so neither waits for a partner
    /// thread inside a kernel. At the miniature's scoring shapes this measured 0.97-1.09× the time of one after the
    /// other (docs/results.md, 2026-12-07 SGEMM/decoding/scoring entry): the passes are large enough that the split
    /// kernels already keep both threads busy.
    /// </summary>
    public static (float[][] LogProbs, float[][] Values) LogProbsAndValues(LlamaModel model, LlamaModel valueModel,
        IReadOnlyList<IReadOnlyList<int>> sequences, int maxBatchTokens = 4096)
    {
        var batches = Batches(sequences, maxBatchTokens);
        float[][]? logProbs = null, values = null;
        EngineThreads.For(2, i =>
        {
            if (i == 0) logProbs = LogProbs(model, sequences, batches);
            else values = Values(valueModel, sequences, batches);
        });
        return (logProbs!, values!);
    }

    private static float[][] LogProbs(LlamaModel model, IReadOnlyList<IReadOnlyList<int>> sequences, List<(List<int> Batch, int SeqLen)> batches)
    {
        var results = new float[sequences.Count][];
        model.ReserveInference(1, LargestPass(batches));
        using var packedWeights = model.UsePackedWeights(); // the same weights for every pass
        foreach (var (batch, seqLen) in batches)
        {
            int b = batch.Count;
            var tokens = new int[b * seqLen];
            var targets = new int[b * seqLen];
            for (int r = 0; r < b; r++)
            {
                var s = sequences[batch[r]];
                for (int t = 0; t < s.Count; t++) tokens[r * seqLen + t] = s[t];
                for (int t = 0; t + 1 < s.Count; t++) targets[r * seqLen + t] = s[t + 1];
            }
            var logp = new float[b * seqLen];
            model.ScoreLogProbs(tokens, targets, b, seqLen, logp);
            for (int r = 0; r < b; r++)
                results[batch[r]] = logp.AsSpan(r * seqLen, Math.Max(0, sequences[batch[r]].Count - 1)).ToArray();
        }
        return results;
    }

    private static float[][] Values(LlamaModel valueModel, IReadOnlyList<IReadOnlyList<int>> sequences, List<(List<int> Batch, int SeqLen)> batches)
    {
        var results = new float[sequences.Count][];
        valueModel.ReserveInference(1, LargestPass(batches));
        using var packedWeights = valueModel.UsePackedWeights();
        foreach (var (batch, seqLen) in batches)
        {
            int b = batch.Count;
            var tokens = new int[b * seqLen];
            for (int r = 0; r < b; r++)
            {
                var s = sequences[batch[r]];
                for (int t = 0; t < s.Count; t++) tokens[r * seqLen + t] = s[t];
            }
            var values = new float[b * seqLen];
            valueModel.ComputeValues(tokens, b, seqLen, values);
            for (int r = 0; r < b; r++) results[batch[r]] = values.AsSpan(r * seqLen, sequences[batch[r]].Count).ToArray();
        }
        return results;
    }

    // The buffers are sized once for the largest pass: growing them batch after batch churned the large-object heap.
    private static int LargestPass(List<(List<int> Batch, int SeqLen)> batches) => batches.Max(b => b.Batch.Count * b.SeqLen);

    // Groups sequence indices, longest first, so that each group's B × (its longest length) stays within the budget.
    private static List<(List<int> Batch, int SeqLen)> Batches(IReadOnlyList<IReadOnlyList<int>> sequences, int maxBatchTokens)
    {
        if (maxBatchTokens <= 0) throw new ArgumentOutOfRangeException(nameof(maxBatchTokens), "maxBatchTokens must be positive.");
        for (int i = 0; i < sequences.Count; i++)
            if (sequences[i].Count == 0) throw new ArgumentException($"Sequence {i} is empty.");
        var order = Enumerable.Range(0, sequences.Count).OrderByDescending(i => sequences[i].Count).ToArray();
        var batches = new List<(List<int>, int)>();
        int k = 0;
        while (k < order.Length)
        {
            int seqLen = sequences[order[k]].Count;
            int take = Math.Max(1, maxBatchTokens / seqLen);
            var batch = order.Skip(k).Take(take).ToList();
            k += batch.Count;
            batches.Add((batch, seqLen));
        }
        return batches;
    }
}
