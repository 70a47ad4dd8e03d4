[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Rlef.Engine.Tests")]

namespace Rlef.Engine.Tokenizers;

/// <summary>An entry of tokenizer.json's "added_tokens" (special tokens and other tokens matched verbatim).</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool LStrip = false, bool RStrip = false, bool SingleWord = false, bool Normalized = false);

/// <summary>A run of input text: either plain text for the normalizer, pre-tokenizer and BPE, or one added token.</summary>
internal readonly record struct Segment(int Start, int Length, AddedToken? Token);

/// <summary>
/// Finds added tokens in text before anything else runs (leftmost, then longest match, via a trie).
/// lstrip/rstrip swallow the white space beside a match; single_word accepts a match only when no word
/// character touches it. Every token is matched on the raw text (the two files here set normalized=false for all).
/// </summary>
internal sealed class AddedTokenMatcher
{
    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }

    private readonly Node _root = new();
    private readonly bool _empty;
    private readonly System.Buffers.SearchValues<char> _firstChars;  // lets the scan jump to candidate positions

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _empty = true;
        foreach (var t in tokens)
        {
            if (t.Content.Length == 0) continue;
            var node = _root;
            foreach (char c in t.Content)
            {
                node.Children ??= new Dictionary<char, Node>();
                if (!node.Children.TryGetValue(c, out var child)) node.Children[c] = child = new Node();
                node = child;
            }
            node.Token ??= t;
            _empty = false;
        }
        _firstChars = System.Buffers.SearchValues.Create(_root.Children?.Keys.ToArray() ?? []);
    }

    public void Split(string text, List<Segment> segments)
    {
        int plainStart = 0, pos = 0;
        while (!_empty && pos < text.Length)
        {
            int skip = text.AsSpan(pos).IndexOfAny(_firstChars);
            if (skip < 0) break;
            pos += skip;
            var (token, end) = LongestAt(text, pos);
            if (token == null || (token.SingleWord && !StandsAlone(text, pos, end)))
            {
                pos++;
                continue;
            }
            int matchStart = pos, matchEnd = end;
            if (token.LStrip) while (matchStart > plainStart && char.IsWhiteSpace(text[matchStart - 1])) matchStart--;
            if (token.RStrip) while (matchEnd < text.Length && char.IsWhiteSpace(text[matchEnd])) matchEnd++;
            if (matchStart > plainStart) segments.Add(new Segment(plainStart, matchStart - plainStart, null));
            segments.Add(new Segment(pos, end - pos, token));
            plainStart = pos = matchEnd;
        }
        if (plainStart < text.Length) segments.Add(new Segment(plainStart, text.Length - plainStart, null));
    }

    private (AddedToken? Token, int End) LongestAt(string text, int pos)
    {
        AddedToken? best = null;
        int bestEnd = pos;
        var node = _root;
        for (int i = pos; i < text.Length; i++)
        {
            if (node.Children == null || !node.Children.TryGetValue(text[i], out node)) break;
            if (node.Token != null) { best = node.Token; bestEnd = i + 1; }
        }
        return (best, bestEnd);
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static bool StandsAlone(string text, int start, int end) =>
        (start == 0 || !IsWordChar(text[start - 1])) && (end == text.Length || !IsWordChar(text[end]));
}
