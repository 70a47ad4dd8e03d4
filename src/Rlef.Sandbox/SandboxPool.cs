using System.Collections.Concurrent;

namespace Rlef.Sandbox;

/// <summary>
/// The warm pool: <see cref="SandboxOptions.Workers"/> sandboxed Python workers, each holding a started
/// interpreter that forks a fresh child per test. Thread-safe: any number of concurrent <see cref="RunAsync"/>
/// calls; each job has one worker to itself and the others queue. Workers start lazily (throttled), are recycled
/// after <see cref="SandboxOptions.JobsPerWorker"/> jobs or any anomaly, and a job whose worker fails is
/// continued on a fresh one (infrastructure failures are retried, never reported as wrong answers).
/// The constructor throws <see cref="InvalidOperationException"/> (with install instructions) when bubblewrap or
/// Python is missing; requests with malformed tests throw <see cref="ArgumentException"/> naming the field.
/// </summary>
public sealed class SandboxPool : ICodeExecutor
{
    private readonly SandboxOptions _options;
    private readonly SandboxLaunch _launch;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _startups;
    private readonly ConcurrentBag<WorkerProcess> _idle = new();
    private volatile bool _disposed;
    private int _started;

    public SandboxPool(SandboxOptions? options = null)
    {
        _options = options ?? new SandboxOptions();
        if (_options.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"SandboxOptions.Workers must be at least 1 (got {_options.Workers})");
        if (_options.JobsPerWorker < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"SandboxOptions.JobsPerWorker must be at least 1 (got {_options.JobsPerWorker})");
        _launch = SandboxLaunch.Create(_options);
        _slots = new SemaphoreSlim(_options.Workers, _options.Workers);
        _startups = new SemaphoreSlim(Math.Max(1, _options.MaxConcurrentStartups));
    }

    public SandboxOptions Options => _options;

    /// <summary>How many worker processes this pool has started so far (recycling starts new ones).</summary>
    public int WorkersStarted => Volatile.Read(ref _started);

    /// <summary>Starts every worker now instead of on first use (benchmarks, servers).</summary>
    public async Task WarmUpAsync(CancellationToken cancellationToken = default)
    {
        var leases = new List<WorkerProcess>();
        try
        {
            for (int i = 0; i < _options.Workers; i++)
                leases.Add(await AcquireRetryingStartsAsync(cancellationToken));
        }
        finally
        {
            foreach (var w in leases)
                Release(w, recycle: false);
        }
    }

    public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        JobRunner.Validate(request);
        var results = new List<TestResult>(request.Tests.Count);
        int failuresOnThisTest = 0, lastFailedTest = -1;
        while (results.Count < request.Tests.Count)
        {
            WorkerProcess? worker = null;
            try
            {
                worker = await AcquireAsync(cancellationToken);
                bool recycle = await JobRunner.RunAsync(worker, request, _launch, results, cancellationToken);
                Release(worker, recycle);
                worker = null;
                break;  // done, or stopped at the first failure
            }
            catch (WorkerFailedException e)
            {
                if (worker != null)
                    Release(worker, recycle: true);
                worker = null;
                int failing = results.Count;
                failuresOnThisTest = failing == lastFailedTest ? failuresOnThisTest + 1 : 1;
                lastFailedTest = failing;
                if (failuresOnThisTest > _options.InfraRetries)
                {
                    // Give up on this test only: it reports infra_error and the job goes on with the next one.
                    results.Add(new TestResult { Verdict = Verdict.InfraError, Error = e.Message });
                    if (request.StopAtFirstFailure)
                        break;
                }
            }
            finally
            {
                if (worker != null)
                    Release(worker, recycle: true);  // cancelled or an unexpected exception mid-job
            }
        }
        return new ExecutionReport(results);
    }

    // A worker can die while it starts (bubblewrap or the kernel refusing under a burst of sandboxes): start another,
    // up to InfraRetries times, as a job does when its worker fails.
    private async Task<WorkerProcess> AcquireRetryingStartsAsync(CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await AcquireAsync(cancellationToken);
            }
            catch (WorkerFailedException) when (attempt < _options.InfraRetries)
            {
            }
        }
    }

    private async Task<WorkerProcess> AcquireAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idle.TryTake(out var idle))
                return idle;
            await _startups.WaitAsync(cancellationToken);
            try
            {
                Interlocked.Increment(ref _started);
                return await WorkerProcess.StartAsync(_launch, cancellationToken);
            }
            finally
            {
                _startups.Release();
            }
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    private void Release(WorkerProcess worker, bool recycle)
    {
        if (recycle || _disposed || worker.JobsDone >= _options.JobsPerWorker || worker.IsDead)
            worker.Dispose();
        else
            _idle.Add(worker);
        _slots.Release();
    }

    /// <summary>Test seam: kills the processes of the idle workers while leaving them in the pool.</summary>
    internal int KillIdleWorkerProcesses()
    {
        int n = 0;
        foreach (var w in _idle)
        {
            w.KillProcessOnly();
            n++;
        }
        return n;
    }

    public ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idle.TryTake(out var w))
            w.Dispose();
        return ValueTask.CompletedTask;
    }
}
