using System.Text.Json;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Policies;

/// <summary>
/// `canonical`: answers every turn with the dataset's reference solution in a python fence (HumanEval+/MBPP+/MBPP).
/// It checks the harness end to end (a correct program must be judged correct) and times it without a model.
/// <see cref="WriteReplayFile"/> writes the same replies in the `replay:FILE` format.
/// </summary>
public sealed class CanonicalPolicy(IEnumerable<Problem> problems) : IPolicy
{
    private readonly Dictionary<string, string> _replies = problems.ToDictionary(p => p.Id, Reply);

    public string Describe() => "canonical";

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
        _replies.TryGetValue(context.TaskId, out var reply)
            ? Task.FromResult(new PolicyReply(reply))
            : throw new InvalidOperationException($"no problem '{context.TaskId}'");

    /// <summary>The reference solution as a model would reply; with HumanEval's prefix it starts with the prefix
    /// (the canonical program is the prompt's stub followed by the reference body).</summary>
    public static string Reply(Problem problem)
    {
        string code = problem.CanonicalSolution ?? throw new InvalidOperationException($"{problem.Id}: the dataset has no reference solution");
        return "```python\n" + code.TrimEnd('\n') + "\n```";
    }

    /// <summary>One line per problem, `turns` copies of the reply (every turn gets it; the first already passes).</summary>
    public static void WriteReplayFile(IEnumerable<Problem> problems, string path, int turns = 1)
    {
        using var writer = new StreamWriter(path);
        foreach (var p in problems)
            writer.WriteLine(JsonSerializer.Serialize(new { task_id = p.Id, replies = Enumerable.Repeat(Reply(p), turns).ToArray() }, ReadableJson.Options));
    }
}
