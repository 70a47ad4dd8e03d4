using Rlef.Training.Runs;

namespace Rlef.Training.Tests;

public class ProgressTests
{
    sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void Rate_eta_and_time_split_follow_the_reported_updates()
    {
        var clock = new ManualClock();
        var progress = new TrainingProgress(totalSteps: 110, startStep: 100, clock, rateWindow: 4);
        Assert.Null(progress.Snapshot().Eta);

        progress.Enter(Phase.Generation);
        for (int i = 1; i <= 6; i++)
        {
            clock.Now += TimeSpan.FromSeconds(2);
            progress.AddTime(Phase.Generation, TimeSpan.FromSeconds(1.5));
            progress.AddTime(Phase.Update, TimeSpan.FromSeconds(0.5));
            progress.CompleteStep(100 + i, tokens: 1000, [new("policy_loss", i)]);
        }
        ProgressSnapshot s = progress.Snapshot();
        Assert.Equal(106, s.Step);
        Assert.Equal(0.5, s.StepsPerSecond, 1e-9);   // the window holds the last 4 updates over 8 s
        Assert.Equal(500, s.TokensPerSecond, 1e-9);
        Assert.Equal(TimeSpan.FromSeconds(8), s.Eta); // 4 updates left at 0.5/s
        Assert.Equal(TimeSpan.FromSeconds(12), s.Elapsed);
        Assert.Equal(9.0, s.TimeSplit[Phase.Generation], 1e-9);
        Assert.Equal(3.0, s.TimeSplit[Phase.Update], 1e-9);
        Assert.Equal(Phase.Generation, s.CurrentPhase);
        Assert.Equal(6.0, s.LastMetrics.Single().Value);
        Assert.Equal(106.0 / 110, s.Fraction, 1e-12);
    }
}
