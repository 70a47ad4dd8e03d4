using System.Text;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;

namespace Rlef.Serving.Model;

/// <summary>How a reply ended, in the words of the protocols (vLLM's finish_reason/stop_reason, SGLang's matched).</summary>
/// <param name="Stopped">true: a stop token, the end of text or a stop string; false: the length limit.</param>
/// <param name="MatchedToken">The stop token sampled last (null for a stop string or the length limit).</param>
/// <param name="MatchedString">The stop string found in the text, if that ended it.</param>
public sealed record ReplyEnd(bool Stopped, int? MatchedToken, string? MatchedString);

/// <summary>The text of a reply and how it ended, as both protocols report them.</summary>
public static class ReplyText
{
    public static ReplyEnd EndOf(Generation g) => g.FinishReason switch
    {
        FinishReason.StopToken => new ReplyEnd(true, g.Tokens[^1], null),
        FinishReason.StopString => new ReplyEnd(true, null, null),
        _ => new ReplyEnd(false, null, null),
    };

    /// <summary>
    /// The decoded reply; with stop strings, cut at the first one (kept when <paramref name="includeStop"/>), as vLLM
    /// and SGLang do. The token ids are never cut: they are what was sampled.
    /// </summary>
    public static (string Text, string? MatchedStop) Decode(ITokenizer tokenizer, Generation g, bool skipSpecialTokens,
        IReadOnlyList<string> stops, bool includeStop)
    {
        string text = tokenizer.Decode(g.Tokens, skipSpecialTokens);
        if (g.FinishReason != FinishReason.StopString || stops.Count == 0) return (text, null);
        int best = -1;
        string? matched = null;
        foreach (string s in stops)
        {
            int at = text.IndexOf(s, StringComparison.Ordinal);
            if (at >= 0 && (best < 0 || at < best)) { best = at; matched = s; }
        }
        if (best < 0) return (text, null);
        return (text[..(best + (includeStop ? matched!.Length : 0))], matched);
    }

    /// <summary>A token as text for logprobs: "token_id:N" when asked, else its decoded text.</summary>
    public static string TokenString(ITokenizer tokenizer, int id, bool asTokenIds) =>
        asTokenIds ? $"token_id:{id}" : tokenizer.Decode([id]);

    public static byte[] TokenBytes(ITokenizer tokenizer, int id) => tokenizer.DecodeToBytes([id]);

    public static string Utf8(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
