using System.Text;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Tokenizer for small models trained from scratch: ids 0–255 are UTF-8 bytes, followed by a few control
/// tokens (BOS, EOS, chat role markers, end of turn). Any text encodes without unknowns; the special-token
/// strings below become their ids when they occur in text, as with Hugging Face tokenizers.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    public const int Bos = 256, Eos = 257, System = 258, User = 259, Assistant = 260, EndOfTurn = 261;

    /// <summary>Special tokens in id order, starting at 256.</summary>
    public static readonly string[] SpecialTokens = ["<|bos|>", "<|eos|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"];

    private readonly AddedTokenMatcher _matcher = new(SpecialTokens.Select((s, i) => new AddedToken(256 + i, s, Special: true)));

    public int VocabSize => 256 + SpecialTokens.Length;
    public int? BosId => Bos;
    public int? EosId => Eos;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length + 4);
        var segments = new List<Segment>();
        _matcher.Split(text, segments);
        foreach (var seg in segments)
        {
            if (seg.Token != null) { ids.Add(seg.Token.Id); continue; }
            foreach (byte b in Encoding.UTF8.GetBytes(text.Substring(seg.Start, seg.Length))) ids.Add(b);
        }
        return ids.ToArray();
    }

    public byte[] DecodeToBytes(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length);
        foreach (int id in ids)
        {
            if (id < 256 && id >= 0) bytes.Add((byte)id);
            else if (id < VocabSize) { if (!skipSpecialTokens) bytes.AddRange(Encoding.UTF8.GetBytes(SpecialTokens[id - 256])); }
            else throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the byte vocabulary (size {VocabSize})");
        }
        return bytes.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false) => Encoding.UTF8.GetString(DecodeToBytes(ids, skipSpecialTokens));

    public int? TokenToId(string token)
    {
        int i = Array.IndexOf(SpecialTokens, token);
        if (i >= 0) return 256 + i;
        var bytes = Encoding.UTF8.GetBytes(token);
        return bytes.Length == 1 ? bytes[0] : null;
    }

    public string IdToToken(int id) =>
        id is >= 0 and < 256 ? $"<0x{id:X2}>" : id < VocabSize && id >= 0 ? SpecialTokens[id - 256] : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the byte vocabulary");

    public bool IsSpecial(int id) => id >= 256 && id < VocabSize;
}

/// <summary>
/// The byte tokenizer's chat format: "&lt;|bos|&gt;" then, per message, a role marker, the content and
/// "&lt;|end|&gt;"; the generation prompt is "&lt;|assistant|&gt;". Content is not trimmed.
/// </summary>
public sealed class ByteChatFormat(ByteTokenizer tokenizer) : ChatFormatBase(tokenizer)
{
    public ByteChatFormat() : this(new ByteTokenizer()) { }

    public override IReadOnlyList<int> StopIds { get; } = [ByteTokenizer.EndOfTurn, ByteTokenizer.Eos];

    public override string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        RequireRoles(messages, "byte");
        var sb = new StringBuilder("<|bos|>");
        foreach (var m in messages) AppendTurn(sb, m.Role, m.Content);
        if (addGenerationPrompt) sb.Append("<|assistant|>");
        return sb.ToString();
    }

    public override string RenderContinuation(string userContent, bool assistantTurnClosed)
    {
        var sb = new StringBuilder();
        if (!assistantTurnClosed) sb.Append("<|end|>");
        AppendTurn(sb, "user", userContent);
        sb.Append("<|assistant|>");
        return sb.ToString();
    }

    private static void AppendTurn(StringBuilder sb, string role, string content) =>
        sb.Append("<|").Append(role).Append("|>").Append(content).Append("<|end|>");
}
