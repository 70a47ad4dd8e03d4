
namespace Rlef.Training.Runs;

/// <summary>The best validation result so far: the update it was measured after and its score (higher is better).</summary>
public sealed record BestValidation(long Step, double Score, string Metric);

/// <summary>
/// Everything about a run's progress that is not a tensor (those live in the checkpoint's named files):
/// where it is, where its data order is, its random streams, and the best checkpoint on validation.
/// </summary>
public sealed record TrainerState
{
    /// <summary>Optimizer updates done.</summary>
    public required long Step { get; init; }
    /// <summary>Rollout iterations done (each feeds <see cref="Config.RolloutConfig.UpdatesPerIteration"/> updates).</summary>
    public long Iteration { get; init; }
    /// <summary>The position of the next training problem.</summary>
    public DataPosition Data { get; init; }
    /// <summary>States of the run's random streams by name (e.g. "minibatches", "sampling"), four words each for xoshiro256.</summary>
    public Dictionary<string, ulong[]> Rngs { get; init; } = [];
    /// <summary>Running totals the run reports (tokens sampled, episodes, seconds per phase…).</summary>
    public Dictionary<string, double> Counters { get; init; } = [];
    public BestValidation? Best { get; init; }

    /// <summary>The saved random stream <paramref name="name"/>; the error names it when the checkpoint lacks it.</summary>
    public Xoshiro256 RestoreRng(string name) =>
        Rngs.TryGetValue(name, out ulong[]? words) ? Xoshiro256.FromState(words)
            : throw new InvalidDataException($"checkpoint at step {Step} has no random stream '{name}' (has: {string.Join(", ", Rngs.Keys)})");

    /// <summary>
    /// This state after a validation at <see cref="Step"/> scored <paramref name="score"/> on
    /// <paramref name="metric"/>; <paramref name="improved"/> says whether it is the new best (ties keep the older).
    /// The trainer saves a checkpoint right after each validation, so the best step always has one.
    /// </summary>
    public TrainerState WithValidation(string metric, double score, out bool improved)
    {
        if (!double.IsFinite(score)) throw new ArgumentOutOfRangeException(nameof(score), score, "validation score must be finite");
        if (Best is not null && Best.Metric != metric)
            throw new ArgumentException($"validation metric changed from '{Best.Metric}' to '{metric}'", nameof(metric));
        improved = Best is null || score > Best.Score;
        return improved ? this with { Best = new BestValidation(Step, score, metric) } : this;
    }
}
