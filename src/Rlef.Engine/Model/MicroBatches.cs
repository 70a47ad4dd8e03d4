namespace Rlef.Engine.Model;

/// <summary>
/// How a list of sequences is cut into micro-batches for the model's padded passes: the in-process PPO and SFT
/// updaters and the learner service pack the same way, so their gradients are summed over the same slices.
/// </summary>
public static class MicroBatches
{
    /// <summary>
    /// Splits sequences (in order) into consecutive groups whose padded size B × T stays within
    /// <paramref name="maxTokens"/> (a single over-long sequence forms its own group).
    /// </summary>
    public static List<(int First, int Count)> Groups(IReadOnlyList<int> lengths, int maxTokens)
    {
        var groups = new List<(int, int)>();
        int first = 0, longest = 0;
        for (int i = 0; i < lengths.Count; i++)
        {
            int candidate = Math.Max(longest, lengths[i]);
            if (i > first && candidate * (i - first + 1) > maxTokens)
            {
                groups.Add((first, i - first));
                first = i;
                candidate = lengths[i];
            }
            longest = candidate;
        }
        groups.Add((first, lengths.Count - first));
        return groups;
    }
}
