namespace Rlef.Engine.Layers;

/// <summary>
/// How many threads the layers use. Small ops stay on the calling thread: a parallel loop costs a few
/// microseconds to start, which is more than the whole op on a few hundred rows.
/// </summary>
public static class Parallelism
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>Upper bound on the threads any layer uses (default: all cores). Set once, before work starts.</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "Threads must be at least 1.");
    }

    /// <summary>Work (in multiply-adds, roughly) below which a loop runs serially.</summary>
    internal const long SerialBelow = 1 << 15;

    /// <summary>Runs body(i) for i in [0, count); in parallel when there is enough work to pay for it.</summary>
    internal static void For(int count, long workPerItem, Action<int> body)
    {
        if (_threads == 1 || count == 1 || count * workPerItem < SerialBelow)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = _threads }, body);
    }

    /// <summary>Runs body(start, end) over contiguous chunks of [0, count), one chunk per thread.</summary>
    internal static void ForChunks(int count, long workPerItem, Action<int, int> body)
    {
        int chunks = (int)Math.Min(_threads, Math.Max(1, count * workPerItem / SerialBelow));
        chunks = Math.Min(chunks, count);
        if (chunks <= 1) { body(0, count); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = _threads },
            c => body((int)((long)count * c / chunks), (int)((long)count * (c + 1) / chunks)));
    }
}
