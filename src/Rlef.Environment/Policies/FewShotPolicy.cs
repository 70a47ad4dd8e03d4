using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;

namespace Rlef.Environment.Policies;

/// <summary>
/// One solved example for a few-shot prompt: a whole episode as chat messages (user prompt, assistant reply, user
/// feedback, …, the assistant's passing reply), so the examples demonstrate the multi-turn format with execution
/// feedback (the paper's few-shot baseline, App. C.3; docs/protocol.md §3.12).
/// </summary>
public sealed record FewShotExample(string TaskId, IReadOnlyList<ChatMessage> Messages)
{
    public int Turns => Messages.Count / 2;
}

/// <summary>
/// The few-shot baseline: <paramref name="k"/> solved example episodes put before the episode's own conversation,
/// as earlier user/assistant exchanges, for any policy. The examples of a problem are a seeded choice from the pool
/// (rendezvous hashing of seed, problem and example), never the evaluated problem itself, the same on every turn
/// and in every run.
/// </summary>
public sealed class FewShotPolicy : IPolicy, IDisposable
{
    private readonly IPolicy _inner;
    private readonly IReadOnlyList<FewShotExample> _pool;
    private readonly int _k;
    private readonly int _seed;
    private readonly string _source;
    private readonly ulong[] _exampleKeys; // each example's content hash, computed once
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, IReadOnlyList<FewShotExample>> _chosen = new(StringComparer.Ordinal);

    public FewShotPolicy(IPolicy inner, IReadOnlyList<FewShotExample> pool, int k, int seed, string source)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        foreach (FewShotExample e in pool)
            if (e.Messages.Count < 2 || e.Messages.Count % 2 != 0 || e.Messages[^1].Role != "assistant"
                || e.Messages.Where((m, i) => m.Role != (i % 2 == 0 ? "user" : "assistant")).Any())
                throw new ArgumentException($"few-shot example '{e.TaskId}': expected alternating user/assistant messages ending with the assistant's reply");
        if (pool.Select(e => e.TaskId).Distinct().Count() <= k)
            throw new ArgumentException($"{source}: {pool.Select(e => e.TaskId).Distinct().Count()} example problems, but {k} examples other than the evaluated problem need at least {k + 1}");
        (_inner, _pool, _k, _seed, _source) = (inner, pool, k, seed, source);
        _exampleKeys = pool.Select(e => Hash(14695981039346656037UL, e.TaskId + "\u0000" + string.Concat(e.Messages.Select(m => m.Content)))).ToArray();
    }

    public IPolicy Inner => _inner;

    public string Describe() => $"{_inner.Describe()} · few-shot {_k} from {_source} (seed {_seed})";

    public string Identity() => $"{_inner.Identity()} · few-shot {_k} from {_source} (seed {_seed})";

    /// <summary>The examples shown for <paramref name="taskId"/>, in prompt order.</summary>
    public IReadOnlyList<FewShotExample> ExamplesFor(string taskId) => _chosen.GetOrAdd(taskId, Choose);

    private List<FewShotExample> Choose(string taskId)
    {
        ulong problem = Hash(14695981039346656037UL, $"{_seed}\u0000{taskId}\u0000");
        var chosen = new List<FewShotExample>(_k);
        var tasks = new HashSet<string>(StringComparer.Ordinal) { taskId };
        var order = Enumerable.Range(0, _pool.Count).OrderBy(i => Mix(problem ^ _exampleKeys[i])).ThenBy(i => _pool[i].TaskId, StringComparer.Ordinal);
        foreach (FewShotExample e in order.Select(i => _pool[i]))
        {
            if (!tasks.Add(e.TaskId)) continue; // never the evaluated problem, never one problem twice
            chosen.Add(e);
            if (chosen.Count == _k) break;
        }
        return chosen;
    }

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
    {
        var messages = ExamplesFor(context.TaskId).SelectMany(e => e.Messages).Concat(conversation.Messages).ToList();
        return _inner.ReplyAsync(conversation with { Messages = messages }, context, cancellationToken);
    }

    public void Dispose() => (_inner as IDisposable)?.Dispose();

    /// <summary>FNV-1a then a murmur finaliser: stable across processes, unlike string.GetHashCode.</summary>
    internal static ulong Hash(ulong h, string text)
    {
        foreach (char c in text) h = (h ^ c) * 1099511628211UL;
        return Mix(h);
    }

    private static ulong Mix(ulong h)
    {
        h ^= h >> 33; h *= 0xFF51AFD7ED558CCDUL; h ^= h >> 33; h *= 0xC4CEB9FE1A85EC53UL; h ^= h >> 33;
        return h;
    }
}

/// <summary>Where few-shot examples come from: an earlier run's solved multi-turn rollouts, or the dataset itself.</summary>
public static class FewShotExamples
{
    /// <summary>
    /// The solved rollouts of <paramref name="path"/> (rollouts.jsonl of `rlef eval`) that took more than one turn, so
    /// they show feedback and its repair; one per problem (the lowest rollout index).
    /// </summary>
    public static IReadOnlyList<FewShotExample> FromRollouts(string path)
    {
        var examples = RolloutStore.Read(path)
            .Where(r => r.PassedAll && r.Turns.Count >= 2)
            .GroupBy(r => r.TaskId, StringComparer.Ordinal)
            .Select(g => g.OrderBy(r => r.RolloutIndex).First())
            .Select(r => new FewShotExample(r.TaskId, r.Conversation))
            .ToList();
        if (examples.Count == 0)
            throw new InvalidDataException($"{path}: no solved rollout with more than one turn (few-shot examples demonstrate feedback and a repair)");
        return examples;
    }

    /// <summary>
    /// Examples made from the dataset's own programs: for each problem with an incorrect and a correct Python solution
    /// (CodeContests' incorrect_solutions and solutions), an episode whose first reply is the incorrect program and whose
    /// second, after the real execution feedback, is the correct one; kept when the first fails the public tests and
    /// the second passes every test. Problems are tried in a seeded order until <paramref name="count"/> are made.
    /// </summary>
    public static async Task<IReadOnlyList<FewShotExample>> FromDatasetAsync(IReadOnlyList<Problem> problems, ICodeExecutor executor,
        int count, int seed, CancellationToken cancellationToken = default)
    {
        var candidates = problems.Where(p => p.IncorrectSolutions.Count > 0 && (p.Solutions.Count > 0 || p.CanonicalSolution is not null))
            .OrderBy(p => FewShotPolicy.Hash(14695981039346656037UL, $"{seed}\u0000{p.Id}"))
            .ThenBy(p => p.Id, StringComparer.Ordinal).ToList();
        var examples = new List<FewShotExample>(count);
        foreach (Problem p in candidates)
        {
            if (examples.Count == count) break;
            string correct = p.Solutions.Count > 0 ? p.Solutions[0] : p.CanonicalSolution!;
            var scripted = new ScriptedReplies([Fence(p.IncorrectSolutions[0]), Fence(correct)]);
            var episode = new Episode(executor, scripted, new EpisodeOptions { TurnLimit = 2 });
            Rollout r = await episode.RunAsync(p, 0, cancellationToken);
            if (r.Turns.Count == 2 && r.PassedAll && r.Turns[0].PublicOutcome != TurnOutcome.Passed)
                examples.Add(new FewShotExample(p.Id, r.Conversation));
        }
        if (examples.Count < count)
            throw new InvalidDataException($"the dataset gives {examples.Count} few-shot examples (an incorrect solution that fails the public tests, then a correct one that passes all), {count} needed; " +
                                           "pass --few-shot-source ROLLOUTS.jsonl (solved multi-turn rollouts of an earlier run)");
        return examples;
    }

    private static string Fence(string code) => "```python\n" + code.TrimEnd('\n') + "\n```";

    /// <summary>Replies in order, one per turn: the demonstration's incorrect then correct program.</summary>
    private sealed class ScriptedReplies(IReadOnlyList<string> replies) : IPolicy
    {
        public string Describe() => "few-shot demonstration";

        public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PolicyReply(replies[context.TurnIndex]));
    }
}
