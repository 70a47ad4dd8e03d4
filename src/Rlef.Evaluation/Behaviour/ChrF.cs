using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Rlef.Evaluation.Behaviour;

/// <summary>
/// chrF, the character n-gram F-score of Popović (2015), with sacrebleu's defaults (sacrebleu ≥ 2.0, CHRF()):
/// character n-grams of orders 1..6 over the text with all whitespace removed; per order, matches are the clipped
/// overlap of n-gram counts, precision = matches / hypothesis n-grams, recall = matches / reference n-grams;
/// precision and recall are averaged over the orders that both texts are long enough to have, and combined as
/// F_β = (1+β²)·P·R / (β²·P + R) with β = 2 (recall weighs more). Returned in [0, 1] rather than sacrebleu's [0, 100].
/// A text with no non-whitespace character scores 0 against anything (no order is effective), as in sacrebleu.
/// Characters are Unicode scalar values (Python's str), not UTF-16 units.
/// </summary>
public static class ChrF
{
    public const int CharOrder = 6;
    public const double Beta = 2.0;

    /// <summary>chrF of <paramref name="hypothesis"/> against <paramref name="reference"/>, in [0, 1].</summary>
    public static double Score(string hypothesis, string reference)
    {
        int[] hyp = ScalarsWithoutWhitespace(hypothesis, out int hypMax), refs = ScalarsWithoutWhitespace(reference, out int refMax);
        // An n-gram packs exactly into one integer key, no string per n-gram: 10 bits a character fit six in a ulong
        // (code is nearly always ASCII); any scalar value (21 bits) fits six in a UInt128.
        return Math.Max(hypMax, refMax) < 1 << 10
            ? Score<ulong>(hyp, refs, bitsPerScalar: 10)
            : Score<UInt128>(hyp, refs, bitsPerScalar: 21);
    }

    private static double Score<TKey>(int[] hyp, int[] refs, int bitsPerScalar) where TKey : IBinaryInteger<TKey>
    {
        double precisionSum = 0, recallSum = 0;
        int effectiveOrders = 0;
        var referenceCounts = new Dictionary<TKey, int>(refs.Length);
        for (int n = 1; n <= CharOrder; n++)
        {
            int hypCount = Math.Max(0, hyp.Length - n + 1), refCount = Math.Max(0, refs.Length - n + 1);
            if (hypCount == 0 || refCount == 0)
                continue; // sacrebleu's "effective order": orders that either text is too short for do not count

            referenceCounts.Clear();
            for (int start = 0; start < refCount; start++)
                CollectionsMarshal.GetValueRefOrAddDefault(referenceCounts, Key<TKey>(refs, start, n, bitsPerScalar), out _)++;
            // Clipped matches Σ min(hyp count, ref count): each hypothesis n-gram consumes one reference occurrence.
            int matches = 0;
            for (int start = 0; start < hypCount; start++)
            {
                ref int remaining = ref CollectionsMarshal.GetValueRefOrNullRef(referenceCounts, Key<TKey>(hyp, start, n, bitsPerScalar));
                if (!Unsafe.IsNullRef(ref remaining) && remaining > 0)
                {
                    remaining--;
                    matches++;
                }
            }
            precisionSum += (double)matches / hypCount;
            recallSum += (double)matches / refCount;
            effectiveOrders++;
        }
        if (effectiveOrders == 0)
            return 0.0;
        double precision = precisionSum / effectiveOrders, recall = recallSum / effectiveOrders;
        if (precision + recall == 0)
            return 0.0;
        double b2 = Beta * Beta;
        return (1 + b2) * precision * recall / (b2 * precision + recall);
    }

    private static TKey Key<TKey>(int[] scalars, int start, int n, int bitsPerScalar) where TKey : IBinaryInteger<TKey>
    {
        TKey key = TKey.Zero;
        for (int i = start; i < start + n; i++)
            key = (key << bitsPerScalar) | TKey.CreateTruncating(scalars[i]);
        return key;
    }

    /// <summary>The code change of docs/protocol.md §4: 1 − chrF of the new code against the previous one.</summary>
    public static double Change(string previous, string next) => 1.0 - Score(next, previous);

    private static int[] ScalarsWithoutWhitespace(string text, out int max)
    {
        var scalars = new List<int>(text.Length);
        max = 0;
        foreach (Rune rune in text.EnumerateRunes())
            if (!Rune.IsWhiteSpace(rune))
            {
                scalars.Add(rune.Value);
                max = Math.Max(max, rune.Value);
            }
        return [.. scalars];
    }
}
