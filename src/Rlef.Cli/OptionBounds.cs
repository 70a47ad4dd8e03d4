using System.CommandLine;
using System.Globalization;

namespace Rlef.Cli;

/// <summary>
/// The bounds of every numeric option, in one place: checked while the command line is parsed, so a value outside
/// them (NaN, Infinity, 1e300, zero or a negative count) is a one-line error with exit code 2 before anything runs.
/// Each option's help states its bounds.
/// </summary>
public static class OptionBounds
{
    /// <summary>A finite number in (<paramref name="min"/>, <paramref name="max"/>] — or [min, max] with <paramref name="minInclusive"/>.</summary>
    public static Option<double> Within(this Option<double> option, double min, double max, bool minInclusive = false)
    {
        option.Description += Invariant($" Range: {(minInclusive ? "[" : "(")}{min}, {max}].");
        option.Validators.Add(result =>
        {
            if (!TryValue(result, out double value))
                return;
            bool ok = double.IsFinite(value) && (minInclusive ? value >= min : value > min) && value <= max;
            if (!ok)
                result.AddError(Invariant($"{option.Name} must be a finite number in {(minInclusive ? "[" : "(")}{min}, {max}], got {Text(value)}"));
        });
        return option;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static Option<int> Within(this Option<int> option, int min, int max = int.MaxValue)
    {
        option.Description += max == int.MaxValue ? Invariant($" At least {min}.") : Invariant($" Range: [{min}, {max}].");
        option.Validators.Add(result =>
        {
            if (!TryValue(result, out int value))
                return;
            if (value < min || value > max)
                result.AddError(max == int.MaxValue
                    ? Invariant($"{option.Name} must be at least {min}, got {value}")
                    : Invariant($"{option.Name} must be in [{min}, {max}], got {value}"));
        });
        return option;
    }

    /// <summary>An optional integer in [<paramref name="min"/>, <paramref name="max"/>] when given.</summary>
    public static Option<int?> Within(this Option<int?> option, int min, int max = int.MaxValue)
    {
        option.Description += max == int.MaxValue ? Invariant($" At least {min}.") : Invariant($" Range: [{min}, {max}].");
        option.Validators.Add(result =>
        {
            if (TryValue(result, out int? given) && given is int value && (value < min || value > max))
                result.AddError(Invariant($"{option.Name} must be in [{min}, {max}], got {value}"));
        });
        return option;
    }

    /// <summary>The option's value; false when it did not even parse (that error is reported already).</summary>
    private static bool TryValue<T>(System.CommandLine.Parsing.OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    private static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
