namespace Rlef.Environment.Policies;

/// <summary>One message of a chat conversation ("system", "user" or "assistant").</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
}

/// <summary>
/// What the policy sees: the conversation so far (ending with a user message) and, for HumanEval(+), the text the
/// assistant turn is prefilled with (docs/protocol.md §1: "the assistant turn is prefilled with the function stub").
/// </summary>
public sealed record Conversation(IReadOnlyList<ChatMessage> Messages, string? AssistantPrefix = null);

/// <summary>Which episode and turn a reply is for: a replay looks replies up by these, a model may log them.</summary>
public sealed record PolicyContext(string TaskId, int RolloutIndex, int TurnIndex, int TurnLimit);

/// <summary>
/// A reply. <see cref="Text"/> is the full assistant message: when the conversation has an assistant prefix, it starts
/// with that prefix (a model continues it; the environment extracts code from the whole message).
/// <see cref="CompletionTokens"/> is what the backend reported, when it did. <see cref="Temperature"/> is the sampling
/// temperature of this reply when it was drawn per reply (<see cref="TemperatureRange"/>), so the rollout records it.
/// </summary>
public sealed record PolicyReply(string Text, int? CompletionTokens = null, double? Temperature = null);

/// <summary>
/// Anything that answers a conversation: an OpenAI-compatible endpoint, a replay of stored replies, and later the
/// project's own model (which will also keep the sampled token ids; the environment only needs the text).
/// </summary>
public interface IPolicy
{
    /// <summary>A short description for logs and run metadata (never contains secrets).</summary>
    string Describe();

    /// <summary>What makes two runs' replies comparable (run.json's policy): by default the description; a served
    /// model is its name, not its address, so a run can resume against the same model restarted elsewhere.</summary>
    string Identity() => Describe();

    Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken);
}
