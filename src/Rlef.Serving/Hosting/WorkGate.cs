using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Rlef.Serving.Hosting;

/// <summary>
/// Bounds the work a service accepts: at most <see cref="Concurrency"/> requests run, at most
/// <see cref="QueueCapacity"/> more wait. Beyond that a request is refused at once with 429 (queue full) instead
/// of piling up; a request that waited longer than <see cref="MaxQueueWait"/>, or that arrives while the service
/// drains for shutdown, gets 503. Both carry Retry-After, so well-behaved clients back off and retry.
/// Attach it to endpoints with <see cref="WorkGateExtensions.RequireWorkGate"/>.
/// </summary>
public sealed class WorkGate
{
    private readonly SemaphoreSlim _running;
    private int _admitted;  // running + queued
    private volatile bool _draining;

    public WorkGate(int concurrency, int queueCapacity, TimeSpan maxQueueWait, int retryAfterSeconds = 1)
    {
        if (concurrency < 1 || queueCapacity < 0 || maxQueueWait <= TimeSpan.Zero || retryAfterSeconds < 0)
            throw new ArgumentOutOfRangeException(nameof(concurrency), $"work gate: concurrency {concurrency} must be ≥ 1, queue {queueCapacity} ≥ 0, wait {maxQueueWait} > 0");
        Concurrency = concurrency;
        QueueCapacity = queueCapacity;
        MaxQueueWait = maxQueueWait;
        RetryAfterSeconds = retryAfterSeconds;
        _running = new SemaphoreSlim(concurrency, concurrency);
    }

    public int Concurrency { get; }
    public int QueueCapacity { get; }
    public TimeSpan MaxQueueWait { get; }
    public int RetryAfterSeconds { get; }

    public int Running => Concurrency - _running.CurrentCount;
    public int Queued => Math.Max(0, Volatile.Read(ref _admitted) - Running);
    public bool Draining => _draining;

    /// <summary>From now on new requests get 503; those admitted before still run.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>Refusals so far, by status (429 or 503): for the metrics.</summary>
    public long Refused429 => Interlocked.Read(ref _refused429);
    public long Refused503 => Interlocked.Read(ref _refused503);
    private long _refused429, _refused503;

    /// <summary>Waits for a place to run. Returns a lease to dispose when done, or the refusal's status (429 / 503).</summary>
    public async Task<(IDisposable? Lease, int RefusalStatus, string Reason)> EnterAsync(CancellationToken cancellationToken)
    {
        if (_draining)
            return Refuse(503, "the service is shutting down");
        if (Interlocked.Increment(ref _admitted) > Concurrency + QueueCapacity)
        {
            Interlocked.Decrement(ref _admitted);
            return Refuse(429, $"too many requests: {Concurrency} running and {QueueCapacity} queued");
        }
        bool entered = false;
        try
        {
            entered = await _running.WaitAsync(MaxQueueWait, cancellationToken);
        }
        finally
        {
            if (!entered)
                Interlocked.Decrement(ref _admitted);
        }
        if (!entered)
            return Refuse(503, $"overloaded: no place to run within {MaxQueueWait.TotalSeconds:0.#} s");
        return (new Lease(this), 0, "");
    }

    private (IDisposable?, int, string) Refuse(int status, string reason)
    {
        Interlocked.Increment(ref status == 429 ? ref _refused429 : ref _refused503);
        return (null, status, reason);
    }

    private sealed class Lease(WorkGate gate) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
            gate._running.Release();
            Interlocked.Decrement(ref gate._admitted);
        }
    }
}

/// <summary>Endpoint metadata saying which gate an endpoint runs behind (read by <see cref="ServiceHost"/>'s middleware).</summary>
public sealed record WorkGateMetadata(WorkGate Gate);

public static class WorkGateExtensions
{
    /// <summary>Runs this endpoint behind <paramref name="gate"/>: refused requests get 429/503 with Retry-After.</summary>
    public static TBuilder RequireWorkGate<TBuilder>(this TBuilder builder, WorkGate gate) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new WorkGateMetadata(gate));

    internal static async Task RunGatedAsync(HttpContext context, RequestDelegate next)
    {
        var gate = context.GetEndpoint()?.Metadata.GetMetadata<WorkGateMetadata>()?.Gate;
        if (gate == null)
        {
            await next(context);
            return;
        }
        var (lease, status, reason) = await gate.EnterAsync(context.RequestAborted);
        if (lease == null)
        {
            await ErrorResponses.WriteAsync(context, status, status == 429 ? "rate_limit_error" : "overloaded_error", reason, gate.RetryAfterSeconds);
            return;
        }
        using (lease)
            await next(context);
    }
}
