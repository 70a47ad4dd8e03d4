using System.Text;
using System.Text.RegularExpressions;

namespace Rlef.Engine.Tokenizers;

/// <summary>A piece of the input: offset and length in UTF-16 code units.</summary>
public readonly record struct TextPiece(int Start, int Length);

/// <summary>
/// Splits text into the "words" BPE runs on. Pieces cover the input in order without gaps (the "Isolated"
/// split behaviour: matches and the text between them both become pieces).
/// </summary>
public abstract class PreTokenizer
{
    /// <summary>Appends the pieces of <paramref name="text"/>, offset by <paramref name="offset"/>.</summary>
    public abstract void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces);

    /// <summary>Pieces of a whole string (for tests and inspection).</summary>
    public List<string> SplitToStrings(string text)
    {
        var pieces = new List<TextPiece>();
        Split(text, 0, pieces);
        return pieces.ConvertAll(p => text.Substring(p.Start, p.Length));
    }
}

/// <summary>Leaves the text whole (ByteLevel with use_regex=false only maps bytes, which the model does).</summary>
public sealed class WholeTextPreTokenizer : PreTokenizer
{
    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        if (text.Length > 0) pieces.Add(new TextPiece(offset, text.Length));
    }
}

/// <summary>Applies splitters one after the other, each to every piece of the previous one.</summary>
public sealed class SequencePreTokenizer(IReadOnlyList<PreTokenizer> steps) : PreTokenizer
{
    public IReadOnlyList<PreTokenizer> Steps { get; } = steps;

    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        if (Steps.Count == 0) { new WholeTextPreTokenizer().Split(text, offset, pieces); return; }
        var current = new List<TextPiece>();
        Steps[0].Split(text, offset, current);
        for (int s = 1; s < Steps.Count; s++)
        {
            var next = new List<TextPiece>(current.Count);
            foreach (var p in current)
                Steps[s].Split(text.Slice(p.Start - offset, p.Length), p.Start, next);
            current = next;
        }
        pieces.AddRange(current);
    }
}

/// <summary>Character classes the split patterns are written in: \p{L}, \p{N}, \s (Unicode White_Space), other.</summary>
internal enum CharKind : byte { Letter, Number, Space, Other }

internal static class CharKinds
{
    private static readonly CharKind[] Ascii = BuildAscii();

    private static CharKind[] BuildAscii()
    {
        var t = new CharKind[128];
        for (int c = 0; c < 128; c++)
            t[c] = char.IsAsciiLetter((char)c) ? CharKind.Letter
                 : char.IsAsciiDigit((char)c) ? CharKind.Number
                 : (c is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') ? CharKind.Space
                 : CharKind.Other;
        return t;
    }

    /// <summary>Class of the code point at <paramref name="i"/> and its width in UTF-16 units (2 for astral).</summary>
    public static CharKind At(ReadOnlySpan<char> s, int i, out int width)
    {
        char c = s[i];
        if (c < 128) { width = 1; return Ascii[c]; }
        // Lone surrogates decode to U+FFFD (a symbol, class Other), as UTF-8 encoding will also replace them.
        Rune.DecodeFromUtf16(s[i..], out Rune r, out width);
        if (Rune.IsLetter(r)) return CharKind.Letter;
        if (Rune.IsNumber(r)) return CharKind.Number;
        // .NET's white space (Zs, Zl, Zp, \t-\r, U+0085) is exactly Unicode's White_Space property.
        if (Rune.IsWhiteSpace(r)) return CharKind.Space;
        return CharKind.Other;
    }

    public static int EndOfRun(ReadOnlySpan<char> s, int i, CharKind kind)
    {
        while (i < s.Length && At(s, i, out int w) == kind) i += w;
        return i;
    }

    public static bool IsCrLf(char c) => c is '\r' or '\n';
}

/// <summary>
/// Hand-written matcher for the split pattern of Llama 3 (maxDigits = 3) and Qwen2/2.5/3 (maxDigits = 1):
/// <code>(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+</code>
/// It tries the alternatives in order, each with the backtracking the regex would do, on code points
/// (.NET's Regex classifies UTF-16 units, so it misclassifies astral letters and digits).
/// </summary>
public sealed class LlamaStylePreTokenizer(int maxDigits) : PreTokenizer
{
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string QwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public int MaxDigits { get; } = maxDigits;

    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        int pos = 0;
        while (pos < text.Length)
        {
            int end = MatchAt(text, pos);
            pieces.Add(new TextPiece(offset + pos, end - pos));
            pos = end;
        }
    }

    private int MatchAt(ReadOnlySpan<char> s, int pos)
    {
        char c = s[pos];
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if (c == '\'' && Contractions.Length(s, pos + 1, ignoreCase: true) is > 0 and int len) return pos + 1 + len;

        CharKind k0 = CharKinds.At(s, pos, out int w0);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if (k0 == CharKind.Letter) return CharKinds.EndOfRun(s, pos, CharKind.Letter);
        if (k0 != CharKind.Number && !CharKinds.IsCrLf(c) && pos + w0 < s.Length && CharKinds.At(s, pos + w0, out _) == CharKind.Letter)
            return CharKinds.EndOfRun(s, pos + w0, CharKind.Letter);
        // \p{N}{1,maxDigits}
        if (k0 == CharKind.Number)
        {
            int p = pos + w0, count = 1;
            while (count < MaxDigits && p < s.Length && CharKinds.At(s, p, out int w) == CharKind.Number) { p += w; count++; }
            return p;
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*   (without the space, the text must start with the symbol itself)
        int symbolStart = c == ' ' ? pos + 1 : pos;
        if (symbolStart < s.Length && CharKinds.At(s, symbolStart, out _) == CharKind.Other)
        {
            int p = CharKinds.EndOfRun(s, symbolStart, CharKind.Other);
            while (p < s.Length && CharKinds.IsCrLf(s[p])) p++;
            return p;
        }
        // Here the text starts with white space.
        int runEnd = CharKinds.EndOfRun(s, pos, CharKind.Space);
        // \s*[\r\n]+ : up to the last line break of the white-space run.
        for (int p = runEnd - 1; p >= pos; p--)
            if (CharKinds.IsCrLf(s[p])) return p + 1;
        // \s+(?!\S) : the whole run at the end of the text, else all but its last character.
        if (runEnd == s.Length || runEnd - 1 > pos) return runEnd == s.Length ? runEnd : runEnd - 1;
        // \s+
        return runEnd;
    }
}

/// <summary>
/// Hand-written matcher for GPT-2's pattern (ByteLevel pre-tokenizer with use_regex=true):
/// <code>'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</code>
/// </summary>
public sealed class Gpt2PreTokenizer : PreTokenizer
{
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        int pos = 0;
        while (pos < text.Length)
        {
            int end = MatchAt(text, pos);
            pieces.Add(new TextPiece(offset + pos, end - pos));
            pos = end;
        }
    }

    private static int MatchAt(ReadOnlySpan<char> s, int pos)
    {
        char c = s[pos];
        if (c == '\'' && Contractions.Length(s, pos + 1, ignoreCase: false) is > 0 and int len) return pos + 1 + len;
        // " ?X+" for X in letters, numbers, symbols: the optional space only helps if X follows it.
        int start = c == ' ' && pos + 1 < s.Length ? pos + 1 : pos;
        CharKind k = CharKinds.At(s, start, out _);
        if (k != CharKind.Space) return CharKinds.EndOfRun(s, start, k);
        int runEnd = CharKinds.EndOfRun(s, pos, CharKind.Space);
        if (runEnd == s.Length || runEnd - 1 > pos) return runEnd == s.Length ? runEnd : runEnd - 1;
        return runEnd;
    }
}

internal static class Contractions
{
    /// <summary>
    /// Length of s|t|re|ve|m|ll|d at <paramref name="i"/> (after the apostrophe), 0 if none. Case-insensitive
    /// matching uses Unicode simple case folding, under which U+017F (long s) equals 's'.
    /// </summary>
    public static int Length(ReadOnlySpan<char> s, int i, bool ignoreCase)
    {
        if (i >= s.Length) return 0;
        char a = Fold(s[i], ignoreCase);
        char b = i + 1 < s.Length ? Fold(s[i + 1], ignoreCase) : '\0';
        return a switch
        {
            's' or 't' or 'm' or 'd' => 1,
            'r' or 'v' when b == 'e' => 2,
            'l' when b == 'l' => 2,
            _ => 0,
        };
    }

    private static char Fold(char c, bool ignoreCase) =>
        !ignoreCase ? c : c == '\u017F' ? 's' : c < 128 ? char.ToLowerInvariant(c) : c;
}

/// <summary>Splits digits from the rest: each digit alone, or runs of digits (HF's Digits pre-tokenizer).</summary>
public sealed class DigitsPreTokenizer(bool individualDigits) : PreTokenizer
{
    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        int pos = 0;
        while (pos < text.Length)
        {
            bool digit = CharKinds.At(text, pos, out int w) == CharKind.Number;
            int end = pos + w;
            if (!digit || !individualDigits)
                while (end < text.Length && (CharKinds.At(text, end, out int w2) == CharKind.Number) == digit) end += w2;
            pieces.Add(new TextPiece(offset + pos, end - pos));
            pos = end;
        }
    }
}

/// <summary>
/// Fallback for split patterns without a hand-written matcher: .NET Regex, "Isolated" behaviour.
/// Possessive quantifiers (X?+, X*+, X++) become atomic groups, which .NET supports.
/// Caveat: .NET classifies UTF-16 units, so astral letters/digits do not match \p{L}/\p{N}.
/// </summary>
public sealed class RegexPreTokenizer : PreTokenizer
{
    private readonly Regex _regex;

    public RegexPreTokenizer(string pattern)
    {
        _regex = new Regex(TranslatePossessive(pattern), RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    public override void Split(ReadOnlySpan<char> text, int offset, List<TextPiece> pieces)
    {
        int pos = 0;
        foreach (ValueMatch m in _regex.EnumerateMatches(text))
        {
            if (m.Length == 0) continue;
            if (m.Index > pos) pieces.Add(new TextPiece(offset + pos, m.Index - pos));
            pieces.Add(new TextPiece(offset + m.Index, m.Length));
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) pieces.Add(new TextPiece(offset + pos, text.Length - pos));
    }

    /// <summary>Rewrites "atom?+", "atom*+", "atom++" and "atom{m,n}+" as "(?>atom?)" etc.</summary>
    internal static string TranslatePossessive(string pattern)
    {
        var sb = new StringBuilder();
        var atomStarts = new Stack<int>();
        int lastAtomStart = -1;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                lastAtomStart = sb.Length;
                int j = i + 2;
                if (pattern[i + 1] is 'p' or 'P' && j < pattern.Length && pattern[j] == '{') j = pattern.IndexOf('}', j) + 1;
                sb.Append(pattern, i, j - i);
                i = j - 1;
            }
            else if (c == '[')
            {
                lastAtomStart = sb.Length;
                int j = i + 1;
                if (j < pattern.Length && pattern[j] == '^') j++;
                if (j < pattern.Length && pattern[j] == ']') j++;
                while (j < pattern.Length && pattern[j] != ']') j += pattern[j] == '\\' ? 2 : 1;
                sb.Append(pattern, i, j + 1 - i);
                i = j;
            }
            else if (c == '(') { atomStarts.Push(sb.Length); sb.Append(c); }
            else if (c == ')') { lastAtomStart = atomStarts.Count > 0 ? atomStarts.Pop() : -1; sb.Append(c); }
            else if (c is '?' or '*' or '+' or '}')
            {
                sb.Append(c);
                if (i + 1 < pattern.Length && pattern[i + 1] == '+' && lastAtomStart >= 0 && !(c == '?' && sb.Length >= 2 && sb[^2] == '('))
                {
                    sb.Insert(lastAtomStart, "(?>");
                    sb.Append(')');
                    i++;
                }
            }
            else if (c == '{')
            {
                int close = pattern.IndexOf('}', i);
                if (close < 0) { sb.Append(c); continue; }
                sb.Append(pattern, i, close - i);
                i = close - 1;
            }
            else { lastAtomStart = sb.Length; sb.Append(c); }
        }
        return sb.ToString();
    }
}
