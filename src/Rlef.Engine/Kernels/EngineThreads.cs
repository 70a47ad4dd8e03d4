namespace Rlef.Engine.Kernels;

/// <summary>
/// The engine's one thread pool: <see cref="Degree"/> threads in total (the caller plus Degree-1 dedicated
/// workers), so kernels never oversubscribe the cores. Work items are handed out dynamically from a shared
/// counter. A call made from inside a parallel region, or while another thread owns the pool, runs serially on
/// the calling thread instead of queueing: nested parallelism would only add threads that compete for the same cores.
/// </summary>
public static class EngineThreads
{
    private static readonly object DispatchLock = new();
    private static int _degree = Math.Max(1, Environment.ProcessorCount);
    private static Worker[] _workers = [];

    [ThreadStatic] private static bool _insideRegion;

    // The job being run; written by the dispatcher before the workers are released.
    private static Action<int>? _body;
    private static int _count;
    private static int _next;
    private static int _pending;
    private static Exception? _failure;
    private static readonly ManualResetEventSlim AllDone = new(false);

    /// <summary>Threads used by <see cref="For"/> (the calling thread included). Default: the processor count.</summary>
    public static int Degree
    {
        get => _degree;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (DispatchLock) _degree = value;
        }
    }

    /// <summary>Runs body(0) … body(count-1), spread over up to <see cref="Degree"/> threads; returns when all are done.</summary>
    public static void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 0) return;
        if (count == 1 || _degree == 1 || _insideRegion || !Monitor.TryEnter(DispatchLock))
        {
            RunSerially(count, body);
            return;
        }
        try
        {
            int threads = Math.Min(_degree, count);
            EnsureWorkers(threads - 1);
            _body = body;
            _count = count;
            _next = 0;
            _failure = null;
            _pending = threads - 1;
            AllDone.Reset();
            for (int w = 0; w < threads - 1; w++) _workers[w].Start();

            _insideRegion = true;
            try { RunItems(); }
            finally { _insideRegion = false; }

            // Always wait for the event, even when _pending already reads 0: the last worker may have
            // decremented but not yet called Set. Skipping the wait let that late Set land in the *next*
            // job and release its dispatcher while that job's workers were still running.
            AllDone.Wait();
            _body = null;
            if (_failure is { } failure)
                throw new AggregateException("A parallel engine kernel failed.", failure);
        }
        finally
        {
            Monitor.Exit(DispatchLock);
        }
    }

    /// <summary>
    /// Splits [0, length) into at most <see cref="Degree"/> contiguous chunks whose sizes are multiples of
    /// <paramref name="grain"/> (except the last) and calls body(start, end) for each.
    /// </summary>
    public static void ForRange(int length, int grain, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentOutOfRangeException.ThrowIfLessThan(grain, 1);
        if (length <= 0) return;
        int grains = (length + grain - 1) / grain;
        int chunks = Math.Min(_degree, grains);
        if (chunks <= 1 || _insideRegion) { body(0, length); return; }
        For(chunks, c =>
        {
            int start = (int)((long)grains * c / chunks) * grain;
            int end = Math.Min(length, (int)((long)grains * (c + 1) / chunks) * grain);
            if (start < end) body(start, end);
        });
    }

    private static void RunSerially(int count, Action<int> body)
    {
        bool outer = _insideRegion;
        _insideRegion = true;
        try { for (int i = 0; i < count; i++) body(i); }
        finally { _insideRegion = outer; }
    }

    private static void RunItems()
    {
        var body = _body!;
        int count = _count;
        for (int i = Interlocked.Increment(ref _next) - 1; i < count; i = Interlocked.Increment(ref _next) - 1)
        {
            try { body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref _failure, e, null); }
        }
    }

    private static void EnsureWorkers(int needed)
    {
        if (_workers.Length >= needed) return;
        var grown = new Worker[needed];
        Array.Copy(_workers, grown, _workers.Length);
        for (int i = _workers.Length; i < needed; i++) grown[i] = new Worker(i);
        _workers = grown;
    }

    private sealed class Worker
    {
        private readonly SemaphoreSlim _wake = new(0);

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"rlef-engine-{index + 1}" };
            thread.Start();
        }

        public void Start() => _wake.Release();

        private void Loop()
        {
            _insideRegion = true;
            while (true)
            {
                _wake.Wait();
                RunItems();
                if (Interlocked.Decrement(ref _pending) == 0) AllDone.Set();
            }
        }
    }
}
