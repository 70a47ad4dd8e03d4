using System.Globalization;
using System.Text.RegularExpressions;
using Rlef.Sandbox;

namespace Rlef.Environment.Episodes;

/// <summary>
/// A problem's one-line <see cref="Problems.Problem.CodePrefix"/> runs in front of the reply's code, so the sandbox
/// reports every line of solution.py one too far down; the feedback must point at the line the model wrote.
/// </summary>
public static partial class SolutionLines
{
    public static TestResult Unshift(TestResult r) => r with { Error = Unshift(r.Error), Stderr = Unshift(r.Stderr) ?? "" };

    /// <summary>`File "solution.py", line N` → line N − 1 (line 1 is the prefix itself and stays 1).</summary>
    public static string? Unshift(string? text) => text is null || !text.Contains("solution.py", StringComparison.Ordinal)
        ? text
        : SolutionLine().Replace(text, m =>
        {
            int line = int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            return m.Groups[1].Value + Math.Max(1, line - 1).ToString(CultureInfo.InvariantCulture);
        });

    [GeneratedRegex(@"(File ""solution\.py"", line )(\d+)")]
    private static partial Regex SolutionLine();
}
