namespace Rlef.Training.Runs;

/// <summary>Where a run stands in its training data: the epoch and the offset within that epoch's permutation.</summary>
public readonly record struct DataPosition(long Epoch, int Offset);

/// <summary>
/// The order in which training problems are visited: epoch after epoch, each a fresh permutation of all problems.
/// The permutation of epoch e depends only on (seed, e), so the whole order is a pure function of the seed and a
/// resumed run continues it exactly from a saved <see cref="DataPosition"/>.
/// </summary>
public sealed class DataOrder
{
    readonly ulong _seed;
    int[] _permutation;

    public DataOrder(int problemCount, ulong seed, DataPosition start = default)
    {
        if (problemCount <= 0) throw new ArgumentOutOfRangeException(nameof(problemCount), problemCount, "need at least one problem");
        if (start.Epoch < 0 || start.Offset < 0 || start.Offset >= problemCount)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"position outside 0..{problemCount - 1}");
        ProblemCount = problemCount;
        _seed = seed;
        Position = start;
        _permutation = Permutation(start.Epoch);
    }

    public int ProblemCount { get; }

    /// <summary>The position of the next problem <see cref="Next"/> returns (saved in checkpoints).</summary>
    public DataPosition Position { get; private set; }

    /// <summary>The index of the next problem to roll out.</summary>
    public int Next()
    {
        int problem = _permutation[Position.Offset];
        Position = Position.Offset + 1 < ProblemCount ? Position with { Offset = Position.Offset + 1 } : new DataPosition(Position.Epoch + 1, 0);
        if (Position.Offset == 0) _permutation = Permutation(Position.Epoch);
        return problem;
    }

    /// <summary>The next <paramref name="count"/> problems.</summary>
    public int[] Take(int count)
    {
        var problems = new int[count];
        for (int i = 0; i < count; i++) problems[i] = Next();
        return problems;
    }

    int[] Permutation(long epoch)
    {
        int[] order = Enumerable.Range(0, ProblemCount).ToArray();
        RandomStreams.ProblemOrder(_seed, epoch).Shuffle(order.AsSpan());
        return order;
    }
}
