using Rlef.Training.Config;

namespace Rlef.Training.Optimization;

/// <summary>
/// The learning rate of each update: linear warm-up from 0 to the peak over the first warm-up updates, then
/// constant (RLEF.md §3 gives the peak and the warm-up; it names no decay, so there is none).
/// </summary>
public sealed class LearningRateSchedule(double peak, int warmupSteps)
{
    public LearningRateSchedule(OptimizerConfig config) : this(config.LearningRate, config.WarmupSteps) { }

    /// <summary>The rate for update <paramref name="step"/>, counted from 1 (the first update gets peak / warm-up).</summary>
    public double At(long step)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "updates are counted from 1");
        return warmupSteps == 0 || step >= warmupSteps ? peak : peak * step / warmupSteps;
    }
}
