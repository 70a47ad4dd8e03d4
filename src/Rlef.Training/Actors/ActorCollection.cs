using System.Diagnostics;
using System.Net.Http;
using System.Threading.Channels;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;
using Rlef.Training.Actors.Remote;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Actors;

/// <summary>One finished episode: the environment's rollout, its exact sampled turns, and who sampled it with which weights.</summary>
public sealed record ActorEpisode(Rollout Rollout, IReadOnlyList<SampledTurn> Turns, string Actor, long PolicyVersion);

/// <summary>What one collection over the actor pool produced.</summary>
/// <param name="Episodes">Index i is episode i of the request, whichever actor finished it.</param>
/// <param name="Reruns">Episodes started again on another actor after theirs failed (each is in Episodes once).</param>
public sealed record ActorCollectionResult(IReadOnlyList<ActorEpisode> Episodes, long SampledTokens, double WallSeconds,
    double GenerationSeconds, int Reruns, IReadOnlyList<string> DeadActors);

/// <summary>
/// Runs a set of episodes on the live actors of a pool: each actor pulls episodes from one shared queue and keeps up
/// to <c>perActor</c> in flight, its requests batched by an <see cref="EnginePolicy"/> over its sampler. When an
/// actor's server fails (connection refused, 5xx after retries, malformed answers), the actor is marked dead and its
/// unfinished episodes go back to the queue, to be run from their first turn by another actor, so no episode is
/// lost or counted twice. An episode's random stream is named by (seed, task, rollout, turn), not by the actor,
/// so a re-run on a deterministic server samples the same tokens.
/// </summary>
public sealed class ActorCollection(ICodeExecutor executor, IChatFormat format, EpisodeOptions episodeOptions, int perActor, TimeSpan batchWindow)
{
    public async Task<ActorCollectionResult> RunAsync(IReadOnlyList<Actor> actors, IReadOnlyList<Problem> problems, SamplingOptions sampling,
        CancellationToken cancellationToken)
    {
        if (problems.Count == 0) throw new ArgumentException("nothing to roll out", nameof(problems));
        var wall = Stopwatch.StartNew();
        var results = new ActorEpisode?[problems.Count];
        var queue = Channel.CreateUnbounded<int>();
        for (int i = 0; i < problems.Count; i++) queue.Writer.TryWrite(i);
        int remaining = problems.Count, reruns = 0;
        long tokens = 0;
        double generationSeconds = 0;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var live = actors.Where(a => a.Alive).ToList();
        if (live.Count == 0) throw new InvalidOperationException("no live actor: " + string.Join("; ", actors.Select(a => $"{a.Name}: {a.Failure}")));
        int liveActors = live.Count;
        var dead = new List<string>();
        var gate = new Lock();

        async Task RunActorAsync(Actor actor)
        {
            var policy = new EnginePolicy(actor.Sampler, format, sampling, perActor, batchWindow);
            var episode = new Episode(executor, policy, episodeOptions);
            int inFlight = 0;
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var actorCancel = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
            Task serving = Task.Run(() => policy.ServeAsync(() => Math.Max(1, Volatile.Read(ref inFlight)), stop.Task, actorCancel.Token));
            long version = actor.Version;

            async Task WorkerAsync()
            {
                while (await queue.Reader.WaitToReadAsync(cancel.Token))
                {
                    if (!actor.Alive) return;
                    if (!queue.Reader.TryRead(out int i)) continue;
                    Interlocked.Increment(ref inFlight);
                    try
                    {
                        // Each attempt of an episode gets a fresh history key: a re-run starts from the first turn.
                        Rollout rollout = await episode.RunAsync(problems[i], i, actorCancel.Token);
                        results[i] = new ActorEpisode(rollout, policy.TurnsOf(i), actor.Name, version);
                        if (Interlocked.Decrement(ref remaining) == 0) queue.Writer.TryComplete();
                    }
                    catch (Exception e) when (IsActorFailure(e) && !cancel.IsCancellationRequested)
                    {
                        lock (gate)
                        {
                            if (actor.Alive)
                            {
                                actor.MarkDead(e.Message);
                                dead.Add($"{actor.Name}: {e.Message}");
                                if (--liveActors == 0)
                                    queue.Writer.TryComplete(new InvalidOperationException($"every actor failed; last: {actor.Name}: {e.Message}", e));
                            }
                            reruns++;
                        }
                        queue.Writer.TryWrite(i); // back to the queue for another actor
                        await actorCancel.CancelAsync(); // the actor's other episodes fail fast and are re-queued too
                        return;
                    }
                    catch when (!cancel.IsCancellationRequested)
                    {
                        await cancel.CancelAsync(); // a failure of the episode itself fails the collection: stop the others
                        throw;
                    }
                    finally
                    {
                        Interlocked.Decrement(ref inFlight);
                    }
                }
            }

            try
            {
                await Task.WhenAll(Enumerable.Range(0, perActor).Select(_ => Task.Run(WorkerAsync)));
            }
            finally
            {
                stop.TrySetResult();
                try { await serving; } catch (OperationCanceledException) { }
                lock (gate)
                {
                    tokens += policy.SampledTokens;
                    generationSeconds += policy.GenerationSeconds;
                }
            }
        }

        try
        {
            await Task.WhenAll(live.Select(a => Task.Run(() => RunActorAsync(a))));
            await queue.Reader.Completion; // surfaces "every actor failed"
        }
        catch
        {
            await cancel.CancelAsync();
            throw;
        }
        if (results.Any(r => r is null)) throw new InvalidOperationException("the collection ended with episodes unfinished");
        return new ActorCollectionResult(results!, tokens, wall.Elapsed.TotalSeconds, generationSeconds, reruns, dead);
    }

    // Failures that say the actor (its server) is gone or broken, not that the episode or the run is wrong. A
    // cancellation inside an actor that another of its episodes marked dead counts too: that episode is re-run.
    static bool IsActorFailure(Exception e) => e is InferenceServerException or HttpRequestException or OperationCanceledException
        || e.InnerException is not null && IsActorFailure(e.InnerException);
}
