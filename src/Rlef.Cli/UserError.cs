using System.Text.Json;
using Rlef.Environment.Problems;
using Rlef.Training.Config;

namespace Rlef.Cli;

/// <summary>
/// Something the user has to fix (an option, a file, a config, a missing program), said in one line. Every verb
/// throws it, or lets a library's input error through, and <see cref="Is"/> decides in one place what counts as
/// one: Program.cs prints it as "rlef VERB: message", without a stack trace, and exits with code 2.
/// </summary>
public sealed class UserError(string message) : Exception(message)
{
    /// <summary>
    /// Whether <paramref name="e"/> is the user's to fix: bad input in a file, option or config (the libraries throw
    /// <see cref="ConfigException"/>, <see cref="DatasetFormatException"/>, <see cref="InvalidDataException"/>,
    /// <see cref="FormatException"/>, <see cref="JsonException"/>, <see cref="ArgumentException"/>), a file that is
    /// missing or unreadable (<see cref="IOException"/>), or a state or requirement of this machine or run directory
    /// that the message names (<see cref="InvalidOperationException"/>, e.g. no bubblewrap; <see cref="NotSupportedException"/>).
    /// </summary>
    public static bool Is(Exception e) => e is UserError or ConfigException or DatasetFormatException or InvalidDataException
        or FormatException or JsonException or ArgumentException or IOException or InvalidOperationException or NotSupportedException;

    /// <summary>The message to show: an <see cref="ArgumentException"/>'s without the " (Parameter 'name')" .NET appends.</summary>
    public static string MessageOf(Exception e) =>
        e is ArgumentException { ParamName: { } name } a && a.Message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal)
            ? a.Message[..^$" (Parameter '{name}')".Length]
            : e.Message;
}
