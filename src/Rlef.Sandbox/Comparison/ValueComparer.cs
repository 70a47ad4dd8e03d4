using System.Globalization;
using System.Numerics;
using System.Text;
using V = Rlef.Sandbox.PythonValue;

namespace Rlef.Sandbox;

/// <summary>
/// Compares a call test's returned value with the expected one, the way evalplus does:
/// <list type="number">
/// <item>Python equality first: 1 == 1.0 == True, list ≠ tuple, set == frozenset, dicts and sets ignore order.</item>
/// <item>If that fails and a tolerance applies, numbers where either side is a float match when
///   |actual − expected| ≤ atol + 1e-7·|expected| (numpy.allclose with evalplus' rtol). The tolerance is the test's
///   atol; with atol = 0 it is 1e-6, but only when the expected value is a float or a non-empty list/tuple of floats
///   (evalplus' is_floats); containers must still have the same type and length.</item>
/// </list>
/// NaN equals NaN (a deliberate departure from Python and numpy: a reference that returns NaN is matched by a
/// candidate that returns NaN). Text that is not in the runner's encoding is compared as text.
/// </summary>
public static class ValueComparer
{
    public const double DefaultFloatAtol = 1e-6;
    public const double Rtol = 1e-7;

    public static bool Matches(string expected, string actual, double atol = 0)
    {
        if (expected == actual)
            return true;
        if (!V.TryParse(expected, out var e, out _) || !V.TryParse(actual, out var a, out _))
            return false;
        return Matches(e!, a!, atol);
    }

    public static bool Matches(V expected, V actual, double atol = 0)
    {
        if (Equal(expected, actual, 0))
            return true;
        double tolerance = atol != 0 ? atol : IsFloats(expected) ? DefaultFloatAtol : 0;
        return tolerance != 0 && Equal(expected, actual, tolerance);
    }

    private static bool IsFloats(V v) => v switch
    {
        V.Float => true,
        V.List l => l.Items.Count > 0 && l.Items.All(x => x is V.Float),
        V.Tuple t => t.Items.Count > 0 && t.Items.All(x => x is V.Float),
        _ => false,
    };

    private static bool Equal(V e, V a, double atol)
    {
        if (IsNumber(e) && IsNumber(a))
            return NumbersEqual(e, a, atol);
        switch (e)
        {
            case V.None: return a is V.None;
            case V.Str s: return a is V.Str s2 && s.Value == s2.Value;
            case V.Bytes b: return a is V.Bytes b2 && b.Value.AsSpan().SequenceEqual(b2.Value);
            case V.List l: return a is V.List l2 && ItemsEqual(l.Items, l2.Items, atol);
            case V.Tuple t: return a is V.Tuple t2 && ItemsEqual(t.Items, t2.Items, atol);
            case V.Set set:
                // Elements of a set are hashable and compared exactly (Python semantics); order is irrelevant.
                return a is V.Set set2 && set.Items.Count == set2.Items.Count
                    && set.Items.Select(Key).ToHashSet().SetEquals(set2.Items.Select(Key));
            case V.Dict d:
                if (a is not V.Dict d2 || d.Items.Count != d2.Items.Count)
                    return false;
                var byKey = new Dictionary<string, V>();
                foreach (var kv in d2.Items)
                    byKey[Key(kv.Key)] = kv.Value;
                return d.Items.All(kv => byKey.TryGetValue(Key(kv.Key), out var v) && Equal(kv.Value, v, atol));
            default:
                return false;
        }
    }

    private static bool ItemsEqual(IReadOnlyList<V> e, IReadOnlyList<V> a, double atol)
    {
        if (e.Count != a.Count)
            return false;
        for (int i = 0; i < e.Count; i++)
            if (!Equal(e[i], a[i], atol))
                return false;
        return true;
    }

    private static bool IsNumber(V v) => v is V.Int or V.Float or V.Bool;

    private static bool NumbersEqual(V e, V a, double atol)
    {
        if (e is not V.Float && a is not V.Float)
            return ToBig(e) == ToBig(a);
        double x = ToDouble(e), y = ToDouble(a);
        if (double.IsNaN(x) || double.IsNaN(y))
            return double.IsNaN(x) && double.IsNaN(y);
        bool exact = e is V.Float && a is V.Float ? x == y : ExactIntFloatEqual(e, a);
        if (exact || atol == 0 || double.IsInfinity(x) || double.IsInfinity(y))
            return exact;
        return Math.Abs(y - x) <= atol + Rtol * Math.Abs(x);
    }

    // Python compares an int and a float exactly, even past 2^53; a double conversion would round.
    private static bool ExactIntFloatEqual(V e, V a)
    {
        if (e is V.Float f && a is not V.Float) return FloatEqualsInt(f.Value, ToBig(a));
        if (a is V.Float g && e is not V.Float) return FloatEqualsInt(g.Value, ToBig(e));
        return false;
    }

    private static bool FloatEqualsInt(double d, BigInteger i) =>
        double.IsFinite(d) && Math.Floor(d) == d && new BigInteger(d) == i;

    private static double ToDouble(V v) => v switch
    {
        V.Float f => f.Value,
        V.Int i => (double)i.Value,
        V.Bool b => b.Value ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    private static BigInteger ToBig(V v) => v switch
    {
        V.Int i => i.Value,
        V.Bool b => b.Value ? 1 : 0,
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    /// <summary>A canonical text for a hashable value such that Python-equal values get the same text.</summary>
    private static string Key(V v)
    {
        var sb = new StringBuilder();
        AppendKey(sb, v);
        return sb.ToString();
    }

    private static void AppendKey(StringBuilder sb, V v)
    {
        switch (v)
        {
            case V.Bool b: sb.Append(b.Value ? "n1" : "n0"); break;
            case V.Int i: sb.Append('n').Append(i.Value.ToString(CultureInfo.InvariantCulture)); break;
            case V.Float f when double.IsFinite(f.Value) && Math.Floor(f.Value) == f.Value:
                sb.Append('n').Append(new BigInteger(f.Value).ToString(CultureInfo.InvariantCulture)); break;
            case V.Float f: sb.Append('f').Append(f.Value.ToString("R", CultureInfo.InvariantCulture)); break;
            case V.Str s: sb.Append('s').Append(s.Value.Length).Append(':').Append(s.Value); break;
            case V.Bytes b: sb.Append('b').Append(Convert.ToHexString(b.Value)); break;
            case V.None: sb.Append('N'); break;
            case V.Tuple t:
                sb.Append('(');
                foreach (var x in t.Items) { AppendKey(sb, x); sb.Append(','); }
                sb.Append(')');
                break;
            case V.Set s:
                sb.Append('{').AppendJoin(",", s.Items.Select(Key).Order(StringComparer.Ordinal)).Append('}');
                break;
            default: sb.Append('?').Append(v.GetType().Name).Append(v.GetHashCode()); break;  // unhashable in Python
        }
    }
}
