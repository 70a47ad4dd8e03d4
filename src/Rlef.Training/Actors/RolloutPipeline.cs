using System.Threading.Channels;
using Rlef.Engine.Sampling;
using Rlef.Environment.Problems;
using Rlef.Training.Runs;

namespace Rlef.Training.Actors;

/// <summary>The rollouts of one iteration as the pipeline delivers them to the learner.</summary>
/// <param name="PositionAfter">The data position after this iteration's problems (what a checkpoint saves, so a
/// resumed run samples the next iteration's problems again, in the same order).</param>
public sealed record PipelinedCollection(long Iteration, IReadOnlyList<Problem> Problems, DataPosition PositionAfter,
    ActorCollectionResult Result, long SampledWithVersion, double WaitedForWeightsSeconds);

/// <summary>
/// The actor side of an asynchronous run: a driver samples iteration j's episodes as soon as the learner has published
/// policy version j − max_policy_lag (version = iterations the learner has finished), bringing the actors to the
/// newest version first, and hands finished collections to the learner through a queue of at most max_policy_lag
/// collections. With max_policy_lag 0 the driver waits for every update: sample, update, sample. Collections run
/// one after the other on the actors, so an episode is sampled by one version from its first turn to its last.
/// </summary>
public sealed class RolloutPipeline : IAsyncDisposable
{
    readonly IReadOnlyList<Actor> _actors;
    readonly ActorCollection _collection;
    readonly WeightPublisher _publisher;
    readonly Func<long, (IReadOnlyList<Problem> Problems, DataPosition After, SamplingOptions Sampling)> _next;
    readonly int _maxLag;
    readonly long _first, _end;
    readonly Channel<PipelinedCollection> _ready;
    readonly CancellationTokenSource _stop = new();
    readonly SemaphoreSlim _published = new(0);
    readonly Task _driver;

    /// <param name="next">The problems, data position after them and sampling options of iteration j (called in order).</param>
    public RolloutPipeline(IReadOnlyList<Actor> actors, ActorCollection collection, WeightPublisher publisher, int maxPolicyLag,
        long firstIteration, long endIteration, Func<long, (IReadOnlyList<Problem>, DataPosition, SamplingOptions)> next)
    {
        _actors = actors;
        _collection = collection;
        _publisher = publisher;
        _maxLag = maxPolicyLag;
        _first = firstIteration;
        _end = endIteration;
        _next = next;
        _ready = Channel.CreateBounded<PipelinedCollection>(new BoundedChannelOptions(Math.Max(1, maxPolicyLag)) { SingleReader = true, SingleWriter = true });
        _driver = Task.Run(DriveAsync);
    }

    public IReadOnlyList<Actor> Actors => _actors;

    /// <summary>The learner finished iteration <paramref name="version"/> − 1: its weights are policy version <paramref name="version"/>.</summary>
    public void Published() => _published.Release();

    /// <summary>The next iteration's rollouts (waits while the actors sample them).</summary>
    public async Task<PipelinedCollection> NextAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _ready.Reader.ReadAsync(cancellationToken);
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            throw new InvalidOperationException($"the actors failed: {e.InnerException.Message}", e.InnerException);
        }
    }

    async Task DriveAsync()
    {
        try
        {
            for (long j = _first; j < _end; j++)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while (_publisher.LatestVersion < j - _maxLag) await _published.WaitAsync(_stop.Token);
                long version = await _publisher.PushAsync(_actors, _stop.Token);
                double waited = clock.Elapsed.TotalSeconds;
                var (problems, after, sampling) = _next(j);
                ActorCollectionResult result = await _collection.RunAsync(_actors, problems, sampling, _stop.Token);
                await _ready.Writer.WriteAsync(new PipelinedCollection(j, problems, after, result, version, waited), _stop.Token);
            }
            _ready.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _ready.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _ready.Writer.TryComplete(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _driver; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
