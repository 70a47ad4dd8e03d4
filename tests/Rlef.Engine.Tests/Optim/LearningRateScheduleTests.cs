using Rlef.Engine.Optim;

namespace Rlef.Engine.Tests.Optim;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmupThenConstant()
    {
        var s = new LearningRateSchedule(1e-3, warmupSteps: 4);
        Assert.Equal([0.25e-3, 0.5e-3, 0.75e-3, 1e-3, 1e-3, 1e-3], Enumerable.Range(0, 6).Select(i => s.At(i)), new Close());
    }

    [Fact]
    public void CosineDecayFromPeakToFloor()
    {
        var s = new LearningRateSchedule(1.0, warmupSteps: 10, LearningRateDecay.Cosine, totalSteps: 110, finalFraction: 0.1);
        Assert.Equal(0.1, s.At(0), 12);
        Assert.Equal(1.0, s.At(10), 12);
        Assert.Equal(0.55, s.At(60), 12);                                 // halfway: floor + (peak − floor)/2
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), s.At(35), 12);
        Assert.Equal(0.1, s.At(110), 12);
        Assert.Equal(0.1, s.At(1000), 12);
    }

    [Fact]
    public void LinearDecayToZero()
    {
        var s = new LearningRateSchedule(2.0, warmupSteps: 0, LearningRateDecay.Linear, totalSteps: 4);
        Assert.Equal([2.0, 1.5, 1.0, 0.5, 0.0, 0.0], Enumerable.Range(0, 6).Select(i => s.At(i)), new Close());
    }

    [Fact]
    public void InvalidSchedulesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(1, 5, LearningRateDecay.Cosine, totalSteps: 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(1, finalFraction: 2));
    }

    private sealed class Close : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-12;
        public int GetHashCode(double obj) => 0;
    }
}
