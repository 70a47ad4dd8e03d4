using Rlef.Training.Runs;

namespace Rlef.Training.Ppo;

/// <summary>Splits one iteration's episodes into the minibatches of its PPO updates (docs/protocol.md §3: 1024 → 4 × 256).</summary>
public static class Minibatches
{
    /// <summary>
    /// Shuffles episode indices 0..episodeCount-1 with <paramref name="rng"/> and deals them into
    /// <paramref name="count"/> minibatches of equal size (the first ones get one more when it does not divide).
    /// Episodes stay whole: a multi-turn episode is never split across updates.
    /// </summary>
    public static int[][] Split(int episodeCount, int count, Xoshiro256 rng)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "need at least one minibatch");
        if (episodeCount < count) throw new ArgumentException($"{episodeCount} episodes cannot fill {count} minibatches", nameof(episodeCount));
        int[] order = Enumerable.Range(0, episodeCount).ToArray();
        rng.Shuffle(order.AsSpan());
        var batches = new int[count][];
        int start = 0;
        for (int b = 0; b < count; b++)
        {
            int size = episodeCount / count + (b < episodeCount % count ? 1 : 0);
            batches[b] = order[start..(start + size)];
            start += size;
        }
        return batches;
    }
}
