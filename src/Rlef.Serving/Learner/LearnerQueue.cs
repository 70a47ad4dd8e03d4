using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Rlef.Serving.Model;

namespace Rlef.Serving.Learner;

/// <summary>What a finished future holds: the result JSON, or a failure (400 for the client's mistakes, 500 otherwise).</summary>
public sealed record FutureOutcome(JsonNode? Result, string? Error, bool UserError);

/// <summary>
/// The futures of the Tinker API (docs/tinker.md "Futures"): every training or sampling call is queued, gets a
/// request id at once, and runs on one worker thread in submission order (so a model's forward_backward,
/// optim_step and save_weights_for_sampler apply in the order the client sent them). A call repeated with the same
/// idempotency key gets the first call's request id and is not run again. The queue is bounded: beyond it the call
/// is refused (429) before it gets an id. Finished results are kept for the most recent <c>keep</c> requests.
/// </summary>
public sealed class LearnerQueue : IDisposable
{
    readonly BlockingCollection<(long Id, Func<JsonNode> Work)> _pending;
    readonly ConcurrentDictionary<long, TaskCompletionSource<FutureOutcome>> _futures = new();
    readonly ConcurrentQueue<long> _order = new();
    readonly Dictionary<string, long> _idempotency = new();
    readonly Queue<string> _idempotencyOrder = new();
    readonly object _submitLock = new();
    readonly Thread _worker;
    readonly int _keep;
    long _nextId;

    public LearnerQueue(int capacity, int keep = 4096)
    {
        _pending = new BlockingCollection<(long, Func<JsonNode>)>(capacity);
        _keep = keep;
        _worker = new Thread(Run) { IsBackground = true, Name = "rlef-learner" };
        _worker.Start();
    }

    public int Length => _pending.Count;
    public long Completed;
    public long Failed;

    /// <summary>Queues <paramref name="work"/>; returns its request id, or null when the queue is full.</summary>
    public long? Submit(Func<JsonNode> work, string? idempotencyKey)
    {
        lock (_submitLock)
        {
            if (idempotencyKey is not null && _idempotency.TryGetValue(idempotencyKey, out long earlier)) return earlier;
            long id = ++_nextId;
            var future = new TaskCompletionSource<FutureOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            _futures[id] = future;
            if (!_pending.TryAdd((id, work)))
            {
                _futures.TryRemove(id, out _);
                _nextId--;
                return null;
            }
            _order.Enqueue(id);
            while (_order.Count > _keep && _order.TryDequeue(out long old)) _futures.TryRemove(old, out _);
            if (idempotencyKey is not null)
            {
                _idempotency[idempotencyKey] = id;
                _idempotencyOrder.Enqueue(idempotencyKey);
                while (_idempotencyOrder.Count > _keep) _idempotency.Remove(_idempotencyOrder.Dequeue());
            }
            return id;
        }
    }

    /// <summary>The outcome of <paramref name="id"/> once it is done, or null when <paramref name="wait"/> passes first; throws KeyNotFoundException for an unknown id.</summary>
    public async Task<FutureOutcome?> RetrieveAsync(long id, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (!_futures.TryGetValue(id, out var future)) throw new KeyNotFoundException($"future {id} not found");
        try
        {
            return await future.Task.WaitAsync(wait, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    void Run()
    {
        foreach (var (id, work) in _pending.GetConsumingEnumerable())
        {
            FutureOutcome outcome;
            try
            {
                outcome = new FutureOutcome(work(), null, false);
                Interlocked.Increment(ref Completed);
            }
            catch (BadRequestException e)
            {
                outcome = new FutureOutcome(null, e.Message, true);
                Interlocked.Increment(ref Failed);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or InvalidDataException or FormatException)
            {
                outcome = new FutureOutcome(null, $"{e.GetType().Name}: {e.Message}", false);
                Interlocked.Increment(ref Failed);
            }
            if (_futures.TryGetValue(id, out var future)) future.TrySetResult(outcome);
        }
    }

    /// <summary>Stops taking work and lets the worker finish what is queued (bounded by <paramref name="wait"/>).</summary>
    public void Drain(TimeSpan wait)
    {
        _pending.CompleteAdding();
        _worker.Join(wait);
    }

    public void Dispose()
    {
        if (!_pending.IsAddingCompleted) _pending.CompleteAdding();
        _worker.Join(TimeSpan.FromSeconds(30));
        _pending.Dispose();
    }
}
