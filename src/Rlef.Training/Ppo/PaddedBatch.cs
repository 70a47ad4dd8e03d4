namespace Rlef.Training.Ppo;

/// <summary>
/// Token sequences right-padded into the engine's [B, T] layout (padding after each sequence's end, never seen by
/// real tokens under causal attention), with next-token targets: targets[b, t] = tokens[b, t + 1].
/// </summary>
public sealed class PaddedBatch
{
    public PaddedBatch(IReadOnlyList<int[]> sequences)
    {
        if (sequences.Count == 0) throw new ArgumentException("an empty batch", nameof(sequences));
        Batch = sequences.Count;
        SeqLen = sequences.Max(s => s.Length);
        Tokens = new int[Batch * SeqLen];
        Targets = new int[Batch * SeqLen];
        for (int b = 0; b < Batch; b++)
        {
            int[] s = sequences[b];
            if (s.Length == 0) throw new ArgumentException($"sequence {b} is empty", nameof(sequences));
            s.CopyTo(Tokens, b * SeqLen);
            for (int t = 0; t + 1 < s.Length; t++) Targets[b * SeqLen + t] = s[t + 1];
        }
    }

    public int Batch { get; }
    public int SeqLen { get; }
    public int[] Tokens { get; }
    public int[] Targets { get; }

    /// <summary>Flat index of (row, position).</summary>
    public int At(int row, int position) => row * SeqLen + position;
}
