namespace Rlef.Training.Runs;

/// <summary>Where the wall-clock time of a run goes (the time split of an iteration).</summary>
public enum Phase
{
    Generation,
    Sandbox,
    Update,
    Evaluation,
    Checkpoint,
}

/// <summary>What a live display shows at one moment.</summary>
/// <param name="StepsPerSecond">Over the last completed updates of this process (a resumed run starts afresh).</param>
/// <param name="Eta">Remaining updates at that rate; null before the rate is known.</param>
/// <param name="TimeSplit">Seconds spent per phase in this process.</param>
public sealed record ProgressSnapshot(
    long Step,
    long TotalSteps,
    Phase? CurrentPhase,
    TimeSpan Elapsed,
    double StepsPerSecond,
    double TokensPerSecond,
    TimeSpan? Eta,
    IReadOnlyList<KeyValuePair<string, double>> LastMetrics,
    IReadOnlyDictionary<Phase, double> TimeSplit)
{
    public double Fraction => TotalSteps == 0 ? 1 : Math.Clamp((double)Step / TotalSteps, 0, 1);
}

/// <summary>
/// Progress of a training run for a live display: the trainer reports phases, finished updates and their
/// metrics; a renderer (e.g. Spectre.Console in `rlef train`) takes snapshots from another thread.
/// </summary>
public sealed class TrainingProgress
{
    readonly Lock _lock = new();
    readonly TimeProvider _clock;
    readonly DateTimeOffset _started;
    readonly Queue<(DateTimeOffset At, long Tokens)> _window = new(); // the last completed updates, for the rate
    readonly int _windowSize;
    readonly Dictionary<Phase, double> _seconds = Enum.GetValues<Phase>().ToDictionary(p => p, _ => 0.0);
    long _step;
    Phase? _phase;
    IReadOnlyList<KeyValuePair<string, double>> _lastMetrics = [];

    public TrainingProgress(long totalSteps, long startStep = 0, TimeProvider? clock = null, int rateWindow = 20)
    {
        if (rateWindow < 1) throw new ArgumentOutOfRangeException(nameof(rateWindow), rateWindow, "must be >= 1");
        _clock = clock ?? TimeProvider.System;
        _started = _clock.GetUtcNow();
        _window.Enqueue((_started, 0));
        _windowSize = rateWindow;
        TotalSteps = totalSteps;
        _step = startStep;
    }

    public long TotalSteps { get; }

    /// <summary>Marks the start of a phase (shown as what the run is doing now).</summary>
    public void Enter(Phase phase)
    {
        lock (_lock) _phase = phase;
    }

    /// <summary>Adds measured seconds to a phase. Overlapping phases (generation beside sandbox runs) each get their own time.</summary>
    public void AddTime(Phase phase, TimeSpan elapsed)
    {
        lock (_lock) _seconds[phase] += elapsed.TotalSeconds;
    }

    /// <summary>Records a finished update: its step, the tokens it processed and its metrics.</summary>
    public void CompleteStep(long step, long tokens, IReadOnlyList<KeyValuePair<string, double>> metrics)
    {
        lock (_lock)
        {
            _step = step;
            _lastMetrics = metrics.ToArray();
            _window.Enqueue((_clock.GetUtcNow(), tokens));
            while (_window.Count > _windowSize + 1) _window.Dequeue();
        }
    }

    public ProgressSnapshot Snapshot()
    {
        lock (_lock)
        {
            DateTimeOffset now = _clock.GetUtcNow();
            (DateTimeOffset first, _) = _window.Peek();
            int updates = _window.Count - 1;
            double seconds = (now - first).TotalSeconds;
            long tokens = _window.Skip(1).Sum(w => w.Tokens);
            double stepsPerSecond = updates > 0 && seconds > 0 ? updates / seconds : 0;
            double tokensPerSecond = updates > 0 && seconds > 0 ? tokens / seconds : 0;
            TimeSpan? eta = stepsPerSecond > 0 ? TimeSpan.FromSeconds(Math.Max(0, TotalSteps - _step) / stepsPerSecond) : null;
            return new ProgressSnapshot(_step, TotalSteps, _phase, now - _started, stepsPerSecond, tokensPerSecond, eta,
                _lastMetrics, new Dictionary<Phase, double>(_seconds));
        }
    }
}
