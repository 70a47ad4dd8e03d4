using System.Globalization;
using System.Text;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Unicode NFC (canonical decomposition, canonical ordering, canonical composition), the normalizer Qwen's
/// tokenizer.json names. Needed because the project runs with InvariantGlobalization, where
/// <see cref="string.Normalize()"/> returns its input unchanged. Tables: <see cref="NfcData"/>.
/// </summary>
public static class Nfc
{
    private static readonly Dictionary<int, byte> CombiningClass = new();
    private static readonly Dictionary<int, int[]> Decomposition = new();
    private static readonly Dictionary<long, int> Composition = new();

    // Hangul syllables decompose and compose arithmetically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    static Nfc()
    {
        foreach (var line in NfcData.Table.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            int cp = int.Parse(f[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (f[0] == "C") { CombiningClass[cp] = byte.Parse(f[2], CultureInfo.InvariantCulture); continue; }
            bool primary = f[^1] == "*";
            int count = f.Length - 2 - (primary ? 1 : 0);
            var parts = new int[count];
            for (int i = 0; i < count; i++) parts[i] = int.Parse(f[2 + i], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Decomposition[cp] = parts;
            if (primary) Composition[Key(parts[0], parts[1])] = cp;
        }
    }

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;

    private static int Ccc(int cp) => cp < 0x300 ? 0 : CombiningClass.TryGetValue(cp, out byte c) ? c : 0;

    /// <summary>True when <paramref name="text"/> certainly is NFC already (every character below U+0300).</summary>
    public static bool IsTriviallyNormalized(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
            if (c >= 0x300) return false;
        return true;
    }

    public static string Normalize(string text)
    {
        if (IsTriviallyNormalized(text)) return text;
        // Only stretches around characters ≥ U+0300 can change. An ASCII character is a starter that never
        // decomposes nor composes with what precedes it, so it bounds such a stretch on both sides.
        var sb = new StringBuilder(text.Length);
        int pos = 0;
        while (pos < text.Length)
        {
            int i = text.AsSpan(pos).IndexOfAnyExceptInRange('\0', '\u02FF');
            if (i < 0) { sb.Append(text, pos, text.Length - pos); break; }
            i += pos;
            int start = i;
            while (start > pos && text[start - 1] >= 0x80) start--;
            if (start > pos) start--;  // the ASCII starter a following mark may combine with
            int end = i;
            while (end < text.Length && text[end] >= 0x80) end++;
            sb.Append(text, pos, start - pos);
            NormalizeStretch(text.AsSpan(start, end - start), sb);
            pos = end;
        }
        return sb.ToString();
    }

    private static void NormalizeStretch(ReadOnlySpan<char> text, StringBuilder sb)
    {
        var cps = new List<int>(text.Length);
        foreach (Rune r in text.EnumerateRunes()) Decompose(r.Value, cps);
        SortCombiningMarks(cps);
        Compose(cps);
        foreach (int cp in cps) sb.Append(new Rune(cp).ToString());
    }

    private static void Decompose(int cp, List<int> output)
    {
        int s = cp - SBase;
        if (s >= 0 && s < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) output.Add(TBase + s % TCount);
            return;
        }
        if (cp >= 0xC0 && Decomposition.TryGetValue(cp, out int[]? parts))
            foreach (int p in parts) Decompose(p, output);
        else
            output.Add(cp);
    }

    /// <summary>Canonical ordering: within each run of non-starters, a stable sort by combining class.</summary>
    private static void SortCombiningMarks(List<int> cps)
    {
        for (int i = 1; i < cps.Count; i++)
        {
            int c = Ccc(cps[i]);
            if (c == 0) continue;
            for (int j = i; j > 0; j--)
            {
                int prev = Ccc(cps[j - 1]);
                if (prev <= c) break;
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
            }
        }
    }

    /// <summary>Canonical composition: each character joins the last starter unless a mark between blocks it.</summary>
    private static void Compose(List<int> cps)
    {
        if (cps.Count < 2) return;
        int starter = Ccc(cps[0]) == 0 ? 0 : -1;
        int lastClass = starter == 0 ? 0 : 256;
        int write = 1;
        for (int i = 1; i < cps.Count; i++)
        {
            int ch = cps[i], cls = Ccc(ch);
            if (starter >= 0 && (lastClass < cls || lastClass == 0) && TryCompose(cps[starter], ch, out int composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (cls == 0) starter = write;
            lastClass = cls;
            cps[write++] = ch;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static bool TryCompose(int a, int b, out int composite)
    {
        int l = a - LBase, v = b - VBase;
        if (l >= 0 && l < LCount && v >= 0 && v < VCount) { composite = SBase + (l * VCount + v) * TCount; return true; }
        int s = a - SBase, t = b - TBase;
        if (s >= 0 && s < SCount && s % TCount == 0 && t > 0 && t < TCount) { composite = a + t; return true; }
        return Composition.TryGetValue(Key(a, b), out composite);
    }
}
