using Rlef.Engine.IO;
using Rlef.Engine.Model;

namespace Rlef.Training.Actors;

/// <summary>
/// Hands new policy versions to the actors. The learner <see cref="Offer"/>s its weights after each iteration (a
/// copy, so it can go on updating); <see cref="PushAsync"/> brings every live actor to the latest offered version:
/// an embedded actor copies the weights into its own model, a server is told to load them from
/// <see cref="Directory"/> (a Hugging Face layout: model.safetensors and config.json), rewritten once per version.
/// A server that refuses is marked dead (its episodes go elsewhere), not retried forever.
/// </summary>
public sealed class WeightPublisher
{
    readonly LlamaModel _latest;
    readonly Lock _lock = new();
    long _latestVersion;
    long _writtenVersion = -1;

    /// <param name="initial">The learner's policy (copied now as version <paramref name="version"/>).</param>
    /// <param name="directory">Where servers load from (for vLLM: the directory it was started on).</param>
    public WeightPublisher(LlamaModel initial, long version, string directory)
    {
        _latest = initial.Clone();
        _latestVersion = version;
        Directory = directory;
    }

    public string Directory { get; }
    public long LatestVersion { get { lock (_lock) return _latestVersion; } }
    /// <summary>Seconds spent writing weights and waiting for servers to load them.</summary>
    public double PublishSeconds { get; private set; }

    /// <summary>The learner's weights after <paramref name="version"/> iterations (copied under the lock).</summary>
    public void Offer(LlamaModel policy, long version)
    {
        lock (_lock)
        {
            _latest.CopyWeightsFrom(policy);
            _latestVersion = version;
        }
    }

    /// <summary>Brings every live actor to the latest offered version; returns that version.</summary>
    public async Task<long> PushAsync(IReadOnlyList<Actor> actors, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long version;
        var stale = new List<Actor>();
        lock (_lock)
        {
            version = _latestVersion;
            foreach (Actor actor in actors)
                if (actor.Alive && actor.Version != version) stale.Add(actor);
            foreach (Actor actor in stale)
                if (actor.Sampler is EngineSampler engine)
                {
                    engine.Model.CopyWeightsFrom(_latest);
                    actor.Version = version;
                }
            if (stale.Any(a => a.Sampler is not EngineSampler) && _writtenVersion != version)
            {
                // Only the weights change between versions; a config.json already there (a real model's, which a
                // server started on this directory read) is kept as it is.
                System.IO.Directory.CreateDirectory(Directory);
                HfWeights.Save(Directory, _latest.Parameters);
                string config = Path.Combine(Directory, "config.json");
                if (!File.Exists(config)) File.WriteAllText(config, _latest.Config.ToJson());
                _writtenVersion = version;
            }
        }
        foreach (Actor actor in stale.Where(a => a.Sampler is not EngineSampler))
        {
            try
            {
                await actor.Sampler.LoadWeightsAsync(Path.GetFullPath(Directory), version, cancellationToken);
                actor.Version = version;
            }
            catch (Exception e) when (e is Remote.InferenceServerException or HttpRequestException)
            {
                actor.MarkDead($"weight reload failed: {e.Message}");
            }
        }
        PublishSeconds += clock.Elapsed.TotalSeconds;
        return version;
    }
}
