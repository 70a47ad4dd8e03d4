using System.Globalization;
using System.Numerics;

namespace Rlef.Sandbox;

/// <summary>The stdout comparison rules, usable on their own (the environment applies the same rules).</summary>
public static class OutputComparer
{
    /// <summary>docs/protocol.md §1: two numbers match when |a − b| &lt; 1e-5 if either is a float.</summary>
    public const double CodeContestsTolerance = 1e-5;

    public static bool Matches(Comparison comparison, string expected, string actual, double atol = 0) => comparison switch
    {
        Comparison.CodeContests => CodeContests(expected, actual),
        Comparison.Exact => string.Equals(expected, actual, StringComparison.Ordinal),
        Comparison.LineWise => LineWise(expected, actual),
        Comparison.ValueTolerance => ValueComparer.Matches(expected.Trim(), actual.Trim(), atol),
        Comparison.LiveCodeBench => LiveCodeBench(expected, actual),
        _ => throw new ArgumentOutOfRangeException(nameof(comparison)),
    };

    /// <summary>
    /// Split both outputs on whitespace and lower-case them; equal token lists pass. Token-wise, two numbers
    /// match when |a − b| &lt; 1e-5 if either is a float; integers must be equal (as numbers: "007" = "7").
    /// </summary>
    public static bool CodeContests(string expected, string actual)
    {
        string[] e = expected.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        string[] a = actual.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (e.Length != a.Length)
            return false;
        for (int i = 0; i < e.Length; i++)
            if (!TokenMatches(e[i], a[i]))
                return false;
        return true;
    }

    private static bool TokenMatches(string e, string a)
    {
        if (string.Equals(e, a, StringComparison.OrdinalIgnoreCase))
            return true;
        bool eInt = IsInteger(e), aInt = IsInteger(a);
        if (eInt && aInt)
            return BigInteger.Parse(e, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
                == BigInteger.Parse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        if (TryDecimal(e, out double x) && TryDecimal(a, out double y))
            return Math.Abs(x - y) < CodeContestsTolerance;
        return false;
    }

    private static bool IsInteger(string s)
    {
        int i = s.Length > 0 && s[0] is '+' or '-' ? 1 : 0;
        if (i == s.Length)
            return false;
        for (; i < s.Length; i++)
            if (!char.IsAsciiDigit(s[i]))
                return false;
        return true;
    }

    // Plain decimal notation only (digits, one point, an exponent): "inf", "nan", "0x1p3" or "1_000" stay words.
    private static bool TryDecimal(string s, out double value)
    {
        value = 0;
        bool digit = false;
        foreach (char c in s)
        {
            if (char.IsAsciiDigit(c))
                digit = true;
            else if (c is not ('.' or 'e' or 'E' or '+' or '-'))
                return false;
        }
        return digit && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
    }

    /// <summary>Line by line, ignoring trailing whitespace on each line and trailing empty lines (\r\n = \n).</summary>
    public static bool LineWise(string expected, string actual)
    {
        var e = Lines(expected);
        var a = Lines(actual);
        return e.SequenceEqual(a, StringComparer.Ordinal);
    }

    private static List<string> Lines(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0)
            lines.RemoveAt(lines.Count - 1);
        return lines;
    }

    /// <summary>
    /// LiveCodeBench's grading of stdin problems: both outputs stripped and split into lines, each line stripped; the
    /// line counts must agree, and each pair of lines must be equal as text or, split on whitespace, as lists of
    /// decimal numbers compared exactly ("1.50" = "1.5", "1e3" = "1000"; no tolerance, case-sensitive).
    /// </summary>
    public static bool LiveCodeBench(string expected, string actual)
    {
        string[] e = expected.Trim().Split('\n');
        string[] a = actual.Trim().Split('\n');
        if (e.Length != a.Length)
            return false;
        for (int i = 0; i < e.Length; i++)
        {
            string el = e[i].Trim(), al = a[i].Trim();
            if (el == al)
                continue;
            string[] et = el.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            string[] at = al.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (et.Length != at.Length)
                return false;
            for (int j = 0; j < et.Length; j++)
                if (!SameDecimal(et[j], at[j]))
                    return false;
        }
        return true;
    }

    // Python's Decimal is exact at any size: integers compare as BigInteger, others as System.Decimal (28 digits).
    private static bool SameDecimal(string e, string a)
    {
        if (IsInteger(e) && IsInteger(a))
            return BigInteger.Parse(e, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
                == BigInteger.Parse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        return decimal.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal x)
            && decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal y)
            && x == y;
    }
}
