namespace Rlef.Engine.Optim;

public enum LearningRateDecay
{
    /// <summary>Stay at the peak after warm-up.</summary>
    Constant,
    /// <summary>Half a cosine from the peak down to FinalFraction·peak at TotalSteps.</summary>
    Cosine,
    /// <summary>A straight line from the peak down to FinalFraction·peak at TotalSteps.</summary>
    Linear,
}

/// <summary>
/// Learning rate per optimizer update: linear warm-up over <see cref="WarmupSteps"/> updates, then the decay.
/// Update s (0-based) during warm-up gets peak·(s+1)/warmup, so the first update already moves the weights and
/// update warmup-1 reaches the peak.
/// </summary>
public sealed record LearningRateSchedule
{
    public LearningRateSchedule(double peakLearningRate, int warmupSteps = 0, LearningRateDecay decay = LearningRateDecay.Constant,
        long totalSteps = 0, double finalFraction = 0)
    {
        if (!(peakLearningRate > 0) || !double.IsFinite(peakLearningRate))
            throw new ArgumentOutOfRangeException(nameof(peakLearningRate), peakLearningRate, "the peak learning rate must be positive and finite.");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        if (decay != LearningRateDecay.Constant && totalSteps <= warmupSteps)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"{decay} decay needs totalSteps > warmupSteps ({warmupSteps}).");
        if (finalFraction is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(finalFraction), finalFraction, "the final fraction of the peak must lie in [0, 1].");
        (PeakLearningRate, WarmupSteps, Decay, TotalSteps, FinalFraction) = (peakLearningRate, warmupSteps, decay, totalSteps, finalFraction);
    }

    public double PeakLearningRate { get; }
    public int WarmupSteps { get; }
    public LearningRateDecay Decay { get; }
    /// <summary>The update at which the decay reaches its floor (unused by Constant).</summary>
    public long TotalSteps { get; }
    /// <summary>The floor of the decay as a fraction of the peak.</summary>
    public double FinalFraction { get; }

    /// <summary>The learning rate of update <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        if (Decay == LearningRateDecay.Constant) return PeakLearningRate;
        double progress = Math.Min(1, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        double floor = PeakLearningRate * FinalFraction;
        double shape = Decay == LearningRateDecay.Cosine ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
        return floor + (PeakLearningRate - floor) * shape;
    }
}
