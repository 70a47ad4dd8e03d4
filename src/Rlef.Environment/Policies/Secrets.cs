using System.Collections.Concurrent;

namespace Rlef.Environment.Policies;

/// <summary>
/// The secrets this process holds (API keys, bearer tokens), so that no log, error file or console line ever shows one:
/// every text that may carry a server's or an exception's words passes through <see cref="Mask"/> before it is written,
/// because servers echo keys back (an OpenAI-style 401 quotes the key it refused).
/// </summary>
public static class Secrets
{
    public const string Replacement = "***";

    // Shorter values would mask ordinary words; no real key is this short.
    private const int MinimumLength = 6;

    private static readonly ConcurrentDictionary<string, byte> Values = new(StringComparer.Ordinal);

    /// <summary>Remembers <paramref name="secret"/> (ignored when null or too short to be a key).</summary>
    public static void Register(string? secret)
    {
        if (secret is { Length: >= MinimumLength })
            Values.TryAdd(secret, 0);
    }

    /// <summary><paramref name="text"/> with every registered secret replaced by <see cref="Replacement"/>.</summary>
    public static string Mask(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return text ?? "";
        // Longest first, so a secret that contains another is replaced whole.
        foreach (string secret in Values.Keys.OrderByDescending(s => s.Length))
            text = text.Replace(secret, Replacement, StringComparison.Ordinal);
        return text;
    }
}
