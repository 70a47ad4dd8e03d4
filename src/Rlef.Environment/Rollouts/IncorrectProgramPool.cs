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

    public string Description => "the policy's own failed turns";

    public IEnumerable<(string TaskId, string Code)> Candidates(string taskId, int rolloutIndex, int turnIndex)
    {
        lock (_lock)
            return DonorOrder.Rank(taskId, rolloutIndex, turnIndex, _programs);
    }

    /// <summary>The first candidate: the program the episode tries first; null when the pool has none of another problem.</summary>
    public (string TaskId, string Code)? Pick(string taskId, int rolloutIndex, int turnIndex) =>
        Candidates(taskId, rolloutIndex, turnIndex).Select(c => ((string, string)?)c).FirstOrDefault();
}

/// <summary>
/// The random-feedback ablation as the paper runs it (docs/protocol.md §4): the donors are the dataset's
/// `incorrect_solutions` of the other problems of the evaluated split.
/// </summary>
public sealed class DatasetIncorrectSolutions : IIncorrectProgramSource
{
    private readonly List<(string TaskId, string Code)> _programs;

    public DatasetIncorrectSolutions(IEnumerable<Problems.Problem> problems)
    {
        _programs = problems.SelectMany(p => p.IncorrectSolutions.Select(code => (p.Id, code))).ToList();
    }

    public int Count => _programs.Count;

    public string Description => "the dataset's incorrect_solutions";

    public IEnumerable<(string TaskId, string Code)> Candidates(string taskId, int rolloutIndex, int turnIndex) =>
        DonorOrder.Rank(taskId, rolloutIndex, turnIndex, _programs);
}

/// <summary>
/// The order in which an episode tries donor programs: rendezvous hashing. Every candidate gets a score from the
/// episode coordinates and its own text, lowest first, so the order depends on the candidates' content only, not on
/// the order they were added in (for a pool grown from rollouts, the order they finished in, which varies from run to
/// run), and different episodes get different donors.
/// </summary>
public static class DonorOrder
{
    public static IReadOnlyList<(string TaskId, string Code)> Rank(string taskId, int rolloutIndex, int turnIndex,
        IEnumerable<(string TaskId, string Code)> programs)
    {
        ulong episode = StableHash(14695981039346656037UL, $"{taskId}\u0000{rolloutIndex}\u0000{turnIndex}\u0000");
        return programs.Where(p => p.TaskId != taskId)
            .Select(p => (Program: p, Score: StableHash(episode, p.TaskId + "\u0000" + p.Code)))
            .OrderBy(c => c.Score).ThenBy(c => c.Program.Code, StringComparer.Ordinal).ThenBy(c => c.Program.TaskId, StringComparer.Ordinal)
            .Select(c => c.Program).ToList();
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
