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
        int[] hyp = ScalarsWithoutWhitespace(hypothesis), refs = ScalarsWithoutWhitespace(reference);
        double precisionSum = 0, recallSum = 0;
        int effectiveOrders = 0;
        for (int n = 1; n <= CharOrder; n++)
        {
            int hypCount = Math.Max(0, hyp.Length - n + 1), refCount = Math.Max(0, refs.Length - n + 1);
            if (hypCount == 0 || refCount == 0)
                continue;
            Dictionary<UInt128, int> refGrams = Count(refs, n);
            int matches = 0;
            foreach ((UInt128 gram, int count) in Count(hyp, n))
                if (refGrams.TryGetValue(gram, out int refGramCount))
                    matches += Math.Min(count, refGramCount);
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

    /// <summary>The code change of RLEF.md §4: 1 − chrF of the new code against the previous one.</summary>
    public static double Change(string previous, string next) => 1.0 - Score(next, previous);

    private static int[] ScalarsWithoutWhitespace(string text)
    {
        var scalars = new List<int>(text.Length);
        foreach (Rune rune in text.EnumerateRunes())
            if (!Rune.IsWhiteSpace(rune))
                scalars.Add(rune.Value);
        return [.. scalars];
    }

    // An n-gram of up to 6 scalar values (21 bits each) packs exactly into 126 bits: no string per n-gram.
    private static Dictionary<UInt128, int> Count(int[] scalars, int n)
    {
        var counts = new Dictionary<UInt128, int>(scalars.Length);
        for (int start = 0; start + n <= scalars.Length; start++)
        {
            UInt128 key = 0;
            for (int i = start; i < start + n; i++)
                key = (key << 21) | (uint)scalars[i];
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }
}
