using Rlef.Environment.Episodes;

namespace Rlef.Environment.Rollouts;

/// <summary>
/// The random-feedback ablation's incorrect programs (RLEF.md §4: "an incorrect solution of a different problem").
/// They come from rollouts: every turn whose code failed its own problem's public tests. Load them from a previous
/// run's rollouts.jsonl (e.g. the same policy with real feedback), and the pool also grows with this run's own failed
/// turns as rollouts finish. The pick is a deterministic function of (task, rollout, turn) and the pool's content.
/// </summary>
public sealed class IncorrectProgramPool : IIncorrectProgramSource
{
    private readonly List<(string TaskId, string Code)> _programs = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get { lock (_lock) return _programs.Count; }
    }

    public static IncorrectProgramPool FromRollouts(IEnumerable<Rollout> rollouts)
    {
        var pool = new IncorrectProgramPool();
        pool.AddRange(rollouts);
        return pool;
    }

    public void AddRange(IEnumerable<Rollout> rollouts)
    {
        foreach (var r in rollouts)
            Add(r);
    }

    /// <summary>Adds the rollout's turns whose code failed the public tests (invalid turns have no program).</summary>
    public void Add(Rollout rollout)
    {
        lock (_lock)
            foreach (var turn in rollout.Turns)
                if (turn.Code is not null && turn.PublicOutcome != TurnOutcome.Passed)
                    _programs.Add((rollout.TaskId, turn.Code));
    }

    public (string TaskId, string Code)? Pick(string taskId, int rolloutIndex, int turnIndex)
    {
        lock (_lock)
        {
            var others = _programs.Where(p => p.TaskId != taskId).ToList();
            if (others.Count == 0)
                return null;
            // A stable hash (string.GetHashCode is randomised per process) so that reruns pick the same program.
            ulong h = 14695981039346656037UL;
            foreach (char c in $"{taskId}\u0000{rolloutIndex}\u0000{turnIndex}")
                h = (h ^ c) * 1099511628211UL;
            return others[(int)(h % (ulong)others.Count)];
        }
    }
}
