namespace Rlef.Engine.Tokenizers;

/// <summary>One chat message; roles are "system", "user" and "assistant".</summary>
public sealed record ChatMessage(string Role, string Content)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content) => new("assistant", content);
}

/// <summary>
/// A model family's chat prompt format: renders a conversation to the exact text its chat template
/// produces, and encodes it (special markers become their ids).
/// </summary>
public interface IChatFormat
{
    ITokenizer Tokenizer { get; }

    /// <summary>Ids that end an assistant turn when sampled (e.g. &lt;|eot_id|&gt;, &lt;|im_end|&gt;).</summary>
    IReadOnlyList<int> StopIds { get; }

    /// <summary>The prompt text, equal to the family's chat template rendering.</summary>
    string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);

    /// <summary>Tokenises <see cref="Render"/>'s text.</summary>
    int[] EncodeChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);

    /// <summary>
    /// Text that continues a conversation whose last tokens are an assistant reply: the end of that
    /// assistant turn (omitted when <paramref name="assistantTurnClosed"/>, i.e. the sampled reply already ends
    /// with its stop token), the new user message, and the assistant header that prompts the next reply.
    /// Its text always starts at a special-token boundary, so appending its ids to a sequence equals
    /// tokenising the whole conversation without re-tokenising earlier turns.
    /// </summary>
    string RenderContinuation(string userContent, bool assistantTurnClosed);

    /// <summary>Tokenises <see cref="RenderContinuation"/>'s text.</summary>
    int[] EncodeContinuation(string userContent, bool assistantTurnClosed);
}

/// <summary>Shared plumbing: encoding is always "render, then tokenise with special-token splitting".</summary>
public abstract class ChatFormatBase(ITokenizer tokenizer) : IChatFormat
{
    public ITokenizer Tokenizer { get; } = tokenizer;
    public abstract IReadOnlyList<int> StopIds { get; }
    public abstract string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
    public abstract string RenderContinuation(string userContent, bool assistantTurnClosed);

    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        Tokenizer.Encode(Render(messages, addGenerationPrompt));

    public int[] EncodeContinuation(string userContent, bool assistantTurnClosed) =>
        Tokenizer.Encode(RenderContinuation(userContent, assistantTurnClosed));

    protected int RequireId(string token) =>
        Tokenizer.TokenToId(token) ?? throw new InvalidDataException($"chat format {GetType().Name}: the tokenizer has no token \"{token}\"");

    protected static void RequireRoles(IReadOnlyList<ChatMessage> messages, string format)
    {
        for (int i = 0; i < messages.Count; i++)
            if (messages[i].Role is not ("system" or "user" or "assistant"))
                throw new ArgumentException($"{format} chat format: message {i} has role \"{messages[i].Role}\"; supported roles are system, user, assistant");
    }
}
