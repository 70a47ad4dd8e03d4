using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// String helpers with the semantics of Jinja2 on Python, which is what transformers' apply_chat_template
/// runs: <c>trim</c>/<c>strip()</c> remove Python's white space (which includes U+001C–U+001F), and
/// <c>strip('\n')</c> removes only the characters given.
/// </summary>
internal static class JinjaStrings
{
    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static string Trim(string s)
    {
        int start = 0, end = s.Length;
        while (start < end && IsPythonSpace(s[start])) start++;
        while (end > start && IsPythonSpace(s[end - 1])) end--;
        return s[start..end];
    }
}

/// <summary>
/// Llama 3 family chat prompts. <see cref="Llama3Variant.Llama3"/> is the Llama 3 (and 3.1 base package)
/// template: BOS, then per message "&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n" + trimmed content +
/// "&lt;|eot_id|&gt;". <see cref="Llama3Variant.Llama31"/> is the Llama 3.1/3.2/3.3 Instruct template, which
/// always opens with a system block carrying "Cutting Knowledge Date: December 2023" and "Today Date: …"
/// before the (trimmed) system message. Tool calling is not supported.
/// </summary>
public sealed class Llama3ChatFormat : ChatFormatBase
{
    private const string HeaderStart = "<|start_header_id|>", HeaderEnd = "<|end_header_id|>\n\n", EndOfTurn = "<|eot_id|>";
    private readonly string _bos;

    public Llama3Variant Variant { get; }

    /// <summary>The "Today Date" of the 3.1 system block (the template's default is "26 Jul 2024").</summary>
    public string DateString { get; }

    public override IReadOnlyList<int> StopIds { get; }

    public Llama3ChatFormat(ITokenizer tokenizer, Llama3Variant variant, string bosToken = "<|begin_of_text|>", string dateString = "26 Jul 2024")
        : base(tokenizer)
    {
        Variant = variant;
        DateString = dateString;
        _bos = bosToken;
        var stops = new List<int> { RequireId(EndOfTurn) };
        foreach (var t in new[] { "<|eom_id|>", "<|end_of_text|>" })
            if (tokenizer.TokenToId(t) is int id) stops.Add(id);
        StopIds = stops;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        RequireRoles(messages, "Llama 3");
        var sb = new StringBuilder();
        int first = 0;
        if (Variant == Llama3Variant.Llama31)
        {
            // The 3.1 template lifts a leading system message into its fixed system block.
            bool hasSystem = messages.Count > 0 && messages[0].Role == "system";
            string system = hasSystem ? JinjaStrings.Trim(messages[0].Content) : "";
            first = hasSystem ? 1 : 0;
            sb.Append(_bos).Append(HeaderStart).Append("system").Append(HeaderEnd)
              .Append("Cutting Knowledge Date: December 2023\n")
              .Append("Today Date: ").Append(DateString).Append("\n\n")
              .Append(system).Append(EndOfTurn);
        }
        for (int i = first; i < messages.Count; i++)
        {
            if (i == 0 && Variant == Llama3Variant.Llama3) sb.Append(_bos);  // Llama 3 prefixes its first message with BOS
            AppendTurn(sb, messages[i].Role, messages[i].Content);
        }
        if (addGenerationPrompt) sb.Append(HeaderStart).Append("assistant").Append(HeaderEnd);
        return sb.ToString();
    }

    public override string RenderContinuation(string userContent, bool assistantTurnClosed)
    {
        var sb = new StringBuilder();
        if (!assistantTurnClosed) sb.Append(EndOfTurn);
        AppendTurn(sb, "user", userContent);
        sb.Append(HeaderStart).Append("assistant").Append(HeaderEnd);
        return sb.ToString();
    }

    private static void AppendTurn(StringBuilder sb, string role, string content) =>
        sb.Append(HeaderStart).Append(role).Append(HeaderEnd).Append(JinjaStrings.Trim(content)).Append(EndOfTurn);
}

public enum Llama3Variant { Llama3, Llama31 }

/// <summary>
/// ChatML prompts (Qwen2, Qwen2.5, Qwen3): "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n" per message.
/// Qwen2.5 inserts a default system message when none is given. Qwen3 (<see cref="QwenThinking"/>) moves
/// an assistant message's "&lt;think&gt;…&lt;/think&gt;" reasoning out of history, keeping it (as a think block)
/// only on assistant turns after the last user message, as its template does.
/// </summary>
public sealed class ChatMlFormat : ChatFormatBase
{
    private const string Start = "<|im_start|>", End = "<|im_end|>";

    /// <summary>System text used when the conversation has none (Qwen2.5's "You are Qwen, …"), or null.</summary>
    public string? DefaultSystem { get; }

    /// <summary>Qwen3's reasoning handling (think blocks).</summary>
    public bool QwenThinking { get; }

    /// <summary>Qwen3's enable_thinking=false: the generation prompt carries an empty think block.</summary>
    public bool DisableThinking { get; init; }

    public override IReadOnlyList<int> StopIds { get; }

    public ChatMlFormat(ITokenizer tokenizer, string? defaultSystem = null, bool qwenThinking = false) : base(tokenizer)
    {
        DefaultSystem = defaultSystem;
        QwenThinking = qwenThinking;
        var stops = new List<int> { RequireId(End) };
        if (tokenizer.TokenToId("<|endoftext|>") is int eot) stops.Add(eot);
        StopIds = stops;
    }

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        RequireRoles(messages, "ChatML");
        var sb = new StringBuilder();
        bool hasSystem = messages.Count > 0 && messages[0].Role == "system";
        if (!hasSystem && DefaultSystem != null) AppendTurn(sb, "system", DefaultSystem);

        int lastQuery = messages.Count - 1;
        if (QwenThinking)
            for (int i = messages.Count - 1; i >= 0; i--)
                if (messages[i].Role == "user" && !(messages[i].Content.StartsWith("<tool_response>", StringComparison.Ordinal) && messages[i].Content.EndsWith("</tool_response>", StringComparison.Ordinal)))
                { lastQuery = i; break; }

        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role != "assistant" || !QwenThinking) { AppendTurn(sb, m.Role, m.Content); continue; }

            string content = m.Content, reasoning = "";
            int close = content.IndexOf("</think>", StringComparison.Ordinal);
            if (close >= 0)
            {
                content = content[(content.LastIndexOf("</think>", StringComparison.Ordinal) + "</think>".Length)..].TrimStart('\n');
                string before = m.Content[..close].TrimEnd('\n');
                int open = before.LastIndexOf("<think>", StringComparison.Ordinal);
                reasoning = (open >= 0 ? before[(open + "<think>".Length)..] : before).TrimStart('\n');
            }
            sb.Append(Start).Append("assistant\n");
            if (i > lastQuery && (i == messages.Count - 1 || reasoning.Length > 0))
                sb.Append("<think>\n").Append(reasoning.Trim('\n')).Append("\n</think>\n\n").Append(content.TrimStart('\n'));
            else
                sb.Append(content);
            sb.Append(End).Append('\n');
        }
        if (addGenerationPrompt)
        {
            sb.Append(Start).Append("assistant\n");
            if (QwenThinking && DisableThinking) sb.Append("<think>\n\n</think>\n\n");
        }
        return sb.ToString();
    }

    public override string RenderContinuation(string userContent, bool assistantTurnClosed)
    {
        var sb = new StringBuilder();
        sb.Append(assistantTurnClosed ? "\n" : End + "\n");
        AppendTurn(sb, "user", userContent);
        sb.Append(Start).Append("assistant\n");
        if (QwenThinking && DisableThinking) sb.Append("<think>\n\n</think>\n\n");
        return sb.ToString();
    }

    private static void AppendTurn(StringBuilder sb, string role, string content) =>
        sb.Append(Start).Append(role).Append('\n').Append(content).Append(End).Append('\n');
}

/// <summary>Chooses the chat format a tokenizer_config.json's chat_template describes.</summary>
public static class ChatFormats
{
    /// <summary>
    /// Reads tokenizer_config.json and returns the matching C# format (Llama 3, Llama 3.1+, ChatML, Qwen2.5,
    /// Qwen3). The template is recognised by its markers, not executed; an unknown family is an error.
    /// </summary>
    public static IChatFormat FromTokenizerConfig(ITokenizer tokenizer, string configPath, string? chatTemplate = null)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
        var root = doc.RootElement;
        string template = chatTemplate ?? (root.TryGetProperty("chat_template", out var t) && t.ValueKind == JsonValueKind.String
            ? t.GetString()!
            : throw new InvalidDataException($"{configPath}: no \"chat_template\" string"));
        string bos = root.TryGetProperty("bos_token", out var b) ? (b.ValueKind == JsonValueKind.String ? b.GetString() : b.ValueKind == JsonValueKind.Object ? b.GetProperty("content").GetString() : null) ?? "" : "";
        return FromTemplate(tokenizer, template, bos, configPath);
    }

    public static IChatFormat FromTemplate(ITokenizer tokenizer, string template, string bosToken, string source)
    {
        if (template.Contains("<|start_header_id|>", StringComparison.Ordinal))
        {
            if (!template.Contains("Cutting Knowledge Date", StringComparison.Ordinal))
                return new Llama3ChatFormat(tokenizer, Llama3Variant.Llama3, bosToken);
            // 3.1 fixes the date in the template; 3.2/3.3 take today's date from strftime_now when the renderer has it.
            var fixedDate = Regex.Match(template, "set date_string = \"([^\"]+)\"");
            string date = template.Contains("strftime_now", StringComparison.Ordinal)
                ? DateTime.UtcNow.ToString("dd MMM yyyy", System.Globalization.CultureInfo.InvariantCulture)
                : fixedDate.Success ? fixedDate.Groups[1].Value : "26 Jul 2024";
            return new Llama3ChatFormat(tokenizer, Llama3Variant.Llama31, bosToken, date);
        }
        if (template.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            // Qwen2.5's template spells its default system message as a literal.
            var def = Regex.Match(template, @"'<\|im_start\|>system\\n([^'{}+]*)<\|im_end\|>\\n'");
            string? defaultSystem = def.Success ? def.Groups[1].Value.Replace("\\n", "\n") : null;
            bool thinking = template.Contains("</think>", StringComparison.Ordinal) && template.Contains("last_query_index", StringComparison.Ordinal);
            return new ChatMlFormat(tokenizer, defaultSystem, thinking);
        }
        throw new NotSupportedException($"{source}: chat_template is neither a Llama 3 (<|start_header_id|>) nor a ChatML (<|im_start|>) template");
    }
}
