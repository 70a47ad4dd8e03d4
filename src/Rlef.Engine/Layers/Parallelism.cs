using Rlef.Engine.Kernels;

namespace Rlef.Engine.Layers;

/// <summary>
/// How the layers spread work over the engine's threads (<see cref="EngineThreads"/>, shared with GEMM, so the two never
/// oversubscribe the cores). Small ops stay on the calling thread: handing work to another thread costs microseconds,
/// more than the whole op on a few hundred rows.
/// </summary>
internal static class Parallelism
{
    /// <summary>Work (in multiply-adds, roughly) below which a loop runs serially.</summary>
    internal const long SerialBelow = 1 << 15;

    /// <summary>Runs body(i) for i in [0, count); in parallel when there is enough work to pay for it.</summary>
    internal static void For(int count, long workPerItem, Action<int> body)
    {
        if (EngineThreads.Degree == 1 || count <= 1 || count * workPerItem < SerialBelow)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        EngineThreads.For(count, body);
    }

    /// <summary>Runs body(start, end) over contiguous chunks of [0, count), at most one chunk per thread.</summary>
    internal static void ForChunks(int count, long workPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        if (EngineThreads.Degree == 1 || count == 1 || count * workPerItem < SerialBelow) { body(0, count); return; }
        EngineThreads.ForRange(count, 1, body);
    }
}
