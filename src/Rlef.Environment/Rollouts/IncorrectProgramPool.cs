using Rlef.Environment.Episodes;

namespace Rlef.Environment.Rollouts;

/// <summary>
/// The random-feedback ablation's incorrect programs (docs/protocol.md §4: "an incorrect solution of a different problem").
/// They come from rollouts: every turn whose code failed its own problem's public tests. Load them from a previous
/// run's rollouts.jsonl (e.g. the same policy with real feedback), and the pool also grows with this run's own failed
/// turns as rollouts finish (unless the run freezes it). The pick is a deterministic function of (task, rollout, turn)
/// and the pool's content, whatever order the programs were added in.
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
            // Rendezvous hashing: every candidate gets a score from the episode coordinates and its own text, and the
            // lowest wins. The pick depends on the pool's content only, not on the order in which rollouts were added
            // (that order is the order they finished in, which varies from run to run).
            ulong episode = StableHash(14695981039346656037UL, $"{taskId}\u0000{rolloutIndex}\u0000{turnIndex}\u0000");
            (string TaskId, string Code)? best = null;
            ulong bestScore = ulong.MaxValue;
            foreach (var program in _programs)
            {
                if (program.TaskId == taskId)
                    continue;
                ulong score = StableHash(episode, program.TaskId + "\u0000" + program.Code);
                if (best is null || score < bestScore || (score == bestScore && string.CompareOrdinal(program.Code, best.Value.Code) < 0))
                    (best, bestScore) = (program, score);
            }
            return best;
        }
    }

    // FNV-1a over the characters (string.GetHashCode is randomised per process), then a final mix so that programs
    // with a common prefix still spread out.
    private static ulong StableHash(ulong h, string text)
    {
        foreach (char c in text)
            h = (h ^ c) * 1099511628211UL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        return h ^ (h >> 33);
    }
}
