using System.Text.RegularExpressions;

namespace Rlef.Environment.Episodes;

/// <summary>
/// docs/protocol.md §1: the first ```python fenced block, else the first fenced block of any language. A reply with no fence,
/// or whose block is empty, is invalid (null). A fence left open at the end of the reply (a reply cut by the token
/// limit) counts up to the end of the reply; the code is then usually broken and the tests say so.
/// </summary>
public static partial class CodeExtractor
{
    public static string? Extract(string reply)
    {
        string text = reply.Replace("\r\n", "\n");
        var match = PythonFence().Match(text);
        if (!match.Success)
            match = AnyFence().Match(text);
        if (!match.Success)
            return null;
        int start = match.Index + match.Length;
        int end = text.IndexOf("```", start, StringComparison.Ordinal);
        string code = end < 0 ? text[start..] : text[start..end];
        return code.Trim().Length == 0 ? null : code;
    }

    [GeneratedRegex(@"```[ \t]*python[^\n`]*\n")]
    private static partial Regex PythonFence();

    [GeneratedRegex(@"```[^\n`]*\n")]
    private static partial Regex AnyFence();
}
