namespace Rlef.Sandbox;

/// <summary>
/// The baseline: one fresh bubblewrap sandbox and Python interpreter per test, with the same runner, limits and
/// verdicts as <see cref="SandboxPool"/>. Used by `rlef bench sandbox` and as a correctness cross-check.
/// At most <see cref="SandboxOptions.Workers"/> sandboxes run at the same time.
/// </summary>
public sealed class FreshProcessExecutor : ICodeExecutor
{
    private readonly SandboxOptions _options;
    private readonly SandboxLaunch _launch;
    private readonly SemaphoreSlim _slots;

    public FreshProcessExecutor(SandboxOptions? options = null)
    {
        _options = options ?? new SandboxOptions();
        if (_options.Workers < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"SandboxOptions.Workers must be at least 1 (got {_options.Workers})");
        _launch = SandboxLaunch.Create(_options);
        _slots = new SemaphoreSlim(_options.Workers, _options.Workers);
    }

    public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
    {
        JobRunner.Validate(request);
        var results = new List<TestResult>(request.Tests.Count);
        foreach (TestCase test in request.Tests)
        {
            TestResult result = await RunOneAsync(request with { Tests = [test] }, cancellationToken);
            results.Add(result);
            if (request.StopAtFirstFailure && result.Verdict != Verdict.Passed)
                break;
        }
        return new ExecutionReport(results);
    }

    private async Task<TestResult> RunOneAsync(ExecutionRequest single, CancellationToken cancellationToken)
    {
        string lastError = "";
        for (int attempt = 0; attempt <= _options.InfraRetries; attempt++)
        {
            await _slots.WaitAsync(cancellationToken);
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                using WorkerProcess worker = await WorkerProcess.StartAsync(_launch, cancellationToken);
                var results = new List<TestResult>(1);
                await JobRunner.RunAsync(worker, single, _launch, results, cancellationToken);
                return results[0] with { HostMs = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds };
            }
            catch (WorkerFailedException e)
            {
                lastError = e.Message;
            }
            finally
            {
                _slots.Release();
            }
        }
        return new TestResult { Verdict = Verdict.InfraError, Error = lastError };
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
