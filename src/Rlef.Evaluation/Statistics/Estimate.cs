namespace Rlef.Evaluation.Statistics;

/// <summary>A point estimate with its bootstrap interval; NaN where undefined (e.g. a rate over zero rollouts).</summary>
public readonly record struct Estimate(double Value, double CiLow, double CiHigh)
{
    public bool IsDefined => !double.IsNaN(Value);

    /// <summary>"12.3% [9.8, 14.9]".</summary>
    public string ToPercentText() =>
        IsDefined ? FormattableString.Invariant($"{100 * Value:0.0}% [{100 * CiLow:0.0}, {100 * CiHigh:0.0}]") : "n/a";
}
