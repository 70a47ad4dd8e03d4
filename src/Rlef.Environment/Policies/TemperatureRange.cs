using System.Globalization;

namespace Rlef.Environment.Policies;

/// <summary>
/// A sampling temperature drawn for each reply from U(<see cref="Low"/>, <see cref="High"/>): the paper's SFT data
/// (App. A.3) was sampled this way, U(0.1, 1.0), so that it covers both careful and diverse replies
/// (docs/protocol.md §3.12). The draw is a function of (seed, task, rollout, turn) only, so a resumed or re-batched
/// run draws the same temperatures; the policy reports the value it used and the rollout records it per turn.
/// </summary>
public sealed record TemperatureRange(double Low, double High, int Seed = 0)
{
    /// <summary>The paper's range for SFT data (App. A.3).</summary>
    public static readonly TemperatureRange Paper = new(0.1, 1.0);

    public void Validate()
    {
        if (!(Low > 0) || !(High >= Low) || !double.IsFinite(High))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"temperature range {Low},{High}: expected 0 < LOW <= HIGH (the paper's SFT data: 0.1,1.0)"));
    }

    /// <summary>Parses "0.1,1.0".</summary>
    public static TemperatureRange Parse(string text, int seed = 0)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 2
            || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double low)
            || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double high))
            throw new FormatException($"temperature range '{text}': expected LOW,HIGH such as 0.1,1.0");
        var range = new TemperatureRange(low, high, seed);
        try { range.Validate(); }
        catch (ArgumentException e) { throw new FormatException(e.Message); }
        return range;
    }

    /// <summary>The temperature of the reply <paramref name="context"/> names.</summary>
    public double Draw(PolicyContext context)
    {
        // FNV-1a over (seed, task, rollout, turn), then SplitMix64's finaliser: stable across processes and platforms.
        ulong h = 14695981039346656037;
        void Mix(ulong value) { for (int i = 0; i < 8; i++) { h = (h ^ (value & 0xFF)) * 1099511628211; value >>= 8; } }
        Mix((ulong)(uint)Seed);
        foreach (char c in context.TaskId) Mix(c);
        Mix((ulong)(uint)context.RolloutIndex);
        Mix((ulong)(uint)context.TurnIndex);
        h ^= h >> 30; h *= 0xBF58476D1CE4E5B9; h ^= h >> 27; h *= 0x94D049BB133111EB; h ^= h >> 31;
        double unit = (h >> 11) * (1.0 / (1UL << 53)); // [0, 1)
        return Low + unit * (High - Low);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"U({Low:0.###}, {High:0.###})");
}
