using System.Text.Json;

namespace Rlef.Environment.Policies;

/// <summary>
/// `replay:FILE`: JSON Lines `{"task_id": "...", "replies": ["...", ...]}`; turn i of that task gets replies[i] (the
/// full assistant message, prefix included). The same replies serve every rollout of the task. For tests, for
/// re-scoring stored replies, and for timing the harness without a model.
/// </summary>
public sealed class ReplayPolicy : IPolicy
{
    private readonly Dictionary<string, IReadOnlyList<string>> _replies;
    private readonly string _path;

    public ReplayPolicy(string path)
    {
        _path = path;
        _replies = Read(path);
    }

    public IReadOnlyCollection<string> TaskIds => _replies.Keys;

    public string Describe() => $"replay:{_path}";

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
    {
        if (!_replies.TryGetValue(context.TaskId, out var replies))
            throw new InvalidOperationException($"{_path}: no replies for task '{context.TaskId}'");
        if (context.TurnIndex >= replies.Count)
            throw new InvalidOperationException(
                $"{_path}: task '{context.TaskId}' has {replies.Count} replies but the episode asks for turn {context.TurnIndex + 1}");
        return Task.FromResult(new PolicyReply(replies[context.TurnIndex]));
    }

    private static Dictionary<string, IReadOnlyList<string>> Read(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"replay file not found: {path}", path);
        var replies = new Dictionary<string, IReadOnlyList<string>>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            JsonElement row;
            try { row = JsonDocument.Parse(line).RootElement; }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNumber}: invalid JSON: {e.Message}"); }
            if (row.ValueKind != JsonValueKind.Object || !row.TryGetProperty("task_id", out var id) || id.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}:{lineNumber}: field 'task_id': missing or not a string");
            if (!row.TryGetProperty("replies", out var list) || list.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}:{lineNumber}: field 'replies': missing or not an array");
            var texts = new List<string>();
            foreach (var item in list.EnumerateArray())
                texts.Add(item.ValueKind == JsonValueKind.String
                    ? item.GetString()!
                    : throw new InvalidDataException($"{path}:{lineNumber}: field 'replies[{texts.Count}]': not a string"));
            if (!replies.TryAdd(id.GetString()!, texts))
                throw new InvalidDataException($"{path}:{lineNumber}: task '{id.GetString()}' appears twice");
        }
        return replies;
    }
}
