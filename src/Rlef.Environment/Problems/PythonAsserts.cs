using System.Text;
using System.Text.RegularExpressions;

namespace Rlef.Environment.Problems;

/// <summary>
/// Turns the original benchmarks' assert-based tests into single tests whose failures show run-time values
/// (docs/protocol.md §1: "asserts are rewritten as unittest-style checks"). `assert f(x) == 3` fails with
/// `AssertionError: 2 != 3`, as unittest's assertEqual would report it, instead of a bare `AssertionError`.
/// Works on source text with a small Python lexer (strings, brackets, comments, continuation lines).
/// </summary>
public static partial class PythonAsserts
{
    /// <summary>Helpers every rewritten test runs first; the messages follow unittest's assert* methods.</summary>
    public const string Helpers = """
        def __rlef_check(ok, first, op, second, msg):
            if not ok:
                text = {"==": "%r != %r", "!=": "%r == %r", "<": "%r not less than %r", "<=": "%r not less than or equal to %r",
                        ">": "%r not greater than %r", ">=": "%r not greater than or equal to %r"}[op] % (first, second)
                raise AssertionError(text if msg is None else text + " : " + str(msg))
        def __rlef_compare(first, op, second, msg=None):
            ok = {"==": lambda: first == second, "!=": lambda: first != second, "<": lambda: first < second,
                  "<=": lambda: first <= second, ">": lambda: first > second, ">=": lambda: first >= second}[op]()
            __rlef_check(ok, first, op, second, msg)
        def __rlef_true(value, msg=None):
            if not value:
                text = "%r is not true" % (value,)
                raise AssertionError(text if msg is None else text + " : " + str(msg))

        """;

    /// <summary>One test cut from a test body: the statements it needs before it, and the statement itself.</summary>
    public sealed record Statement(string Source, bool IsTest);

    /// <summary>
    /// The top-level statements of <paramref name="source"/> (a dedented block). A statement with an indented body
    /// (for/if/with...) is one statement. Blank lines and comment-only lines are dropped.
    /// </summary>
    public static List<string> TopLevelStatements(string source)
    {
        var statements = new List<string>();
        StringBuilder? current = null;
        int baseIndent = -1;
        foreach (string logical in LogicalLines(source))
        {
            int indent = logical.Length - logical.TrimStart(' ', '\t').Length;
            if (baseIndent < 0)
                baseIndent = indent;
            if (indent <= baseIndent || current is null)
            {
                if (current is not null)
                    statements.Add(current.ToString());
                current = new StringBuilder(logical[Math.Min(indent, baseIndent)..]);
            }
            else
                current.Append('\n').Append(Dedent(logical, baseIndent));
        }
        if (current is not null)
            statements.Add(current.ToString());
        return statements;
    }

    /// <summary>The body of `def check(candidate):` and the module text around it (imports, helpers).</summary>
    public static (string Prelude, string Body) SplitCheckFunction(string testSource, Func<string, Exception> error)
    {
        var match = CheckDef().Match(testSource);
        if (!match.Success)
            throw error("no `def check(candidate):` function");
        int bodyStart = match.Index + match.Length;
        var lines = testSource[bodyStart..].Split('\n');
        var body = new List<string>();
        int consumed = 0;
        foreach (string line in lines)
        {
            if (line.Trim().Length > 0 && !char.IsWhiteSpace(line[0]))
                break;
            body.Add(line);
            consumed += line.Length + 1;
        }
        string after = bodyStart + consumed < testSource.Length ? testSource[(bodyStart + consumed)..] : "";
        string prelude = testSource[..match.Index] + after;
        return (prelude, DedentBlock(string.Join('\n', body)));
    }

    /// <summary>
    /// Rewrites every `assert` statement in <paramref name="statement"/> (at any depth) into a call of the helpers.
    /// Asserts whose top-level expression is not a single comparison become `__rlef_true(expr)`.
    /// </summary>
    public static string Rewrite(string statement)
    {
        var output = new StringBuilder();
        foreach (string logical in LogicalLines(statement, keepBlank: true))
        {
            string trimmed = logical.TrimStart(' ', '\t');
            string indent = logical[..(logical.Length - trimmed.Length)];
            if (output.Length > 0)
                output.Append('\n');
            output.Append(trimmed.StartsWith("assert ", StringComparison.Ordinal) || trimmed.StartsWith("assert(", StringComparison.Ordinal)
                ? indent + RewriteAssert(trimmed["assert".Length..])
                : logical);
        }
        return output.ToString();
    }

    private static string RewriteAssert(string rest)
    {
        rest = StripComment(rest).Trim();
        var (expr, message) = SplitTopLevel(rest, ",") is { } at ? (rest[..at].Trim(), rest[(at + 1)..].Trim()) : (rest, null);
        string msgArg = message is null ? "" : $", ({message})";
        if (FindComparison(expr) is var (position, op))
        {
            string left = expr[..position].Trim(), right = expr[(position + op.Length)..].Trim();
            return $"__rlef_compare(({left}), \"{op}\", ({right}){msgArg})";
        }
        return $"__rlef_true(({expr}){msgArg})";
    }

    /// <summary>The single top-level ==, !=, &lt;, &lt;=, &gt; or &gt;= of an expression; null when there is none,
    /// several (chains), or a boolean operator / lambda / `not` that would change the meaning of a split.</summary>
    private static (int Position, string Op)? FindComparison(string expr)
    {
        if (expr.StartsWith("not ", StringComparison.Ordinal) || expr.StartsWith("lambda", StringComparison.Ordinal))
            return null;
        (int, string)? found = null;
        int depth = 0;
        for (int i = 0; i < expr.Length; i++)
        {
            char c = expr[i];
            if (c is '\'' or '"') { i = SkipString(expr, i) - 1; continue; }
            if (c is '(' or '[' or '{') { depth++; continue; }
            if (c is ')' or ']' or '}') { depth--; continue; }
            if (depth != 0) continue;
            if (IsWordAt(expr, i, "and") || IsWordAt(expr, i, "or") || IsWordAt(expr, i, "if") || IsWordAt(expr, i, "lambda")
                || IsWordAt(expr, i, "is") || IsWordAt(expr, i, "in") || IsWordAt(expr, i, "not"))
                return null;
            string? op = null;
            char next = i + 1 < expr.Length ? expr[i + 1] : '\0';
            char prev = i > 0 ? expr[i - 1] : '\0';
            if (c == '=' && next == '=') op = "==";
            else if (c == '!' && next == '=') op = "!=";
            else if (c == '<' && next == '=') op = "<=";
            else if (c == '>' && next == '=') op = ">=";
            else if (c == '<' && next != '<' && prev != '<') op = "<";
            else if (c == '>' && next != '>' && prev != '>' && prev != '-') op = ">";
            else if (c == '=' ) return null; // assignment expression or keyword argument at top level: leave it alone
            if (op is null) continue;
            if (found is not null) return null; // a chained comparison
            found = (i, op);
            i += op.Length - 1;
        }
        return found;
    }

    private static bool IsWordAt(string s, int i, string word) =>
        string.CompareOrdinal(s, i, word, 0, word.Length) == 0
        && (i == 0 || !IsIdentifierChar(s[i - 1]))
        && (i + word.Length >= s.Length || !IsIdentifierChar(s[i + word.Length]));

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static int? SplitTopLevel(string s, string separator)
    {
        int depth = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\'' or '"') { i = SkipString(s, i) - 1; continue; }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (depth == 0 && string.CompareOrdinal(s, i, separator, 0, separator.Length) == 0)
                return i;
        }
        return null;
    }

    private static string StripComment(string s)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is '\'' or '"') { i = SkipString(s, i) - 1; continue; }
            if (s[i] == '#') return s[..i];
        }
        return s;
    }

    /// <summary>Index just past the string literal starting at <paramref name="i"/> (a quote; prefixes are plain letters
    /// before it and need no handling). Triple quotes and backslash escapes are honoured.</summary>
    private static int SkipString(string s, int i)
    {
        char q = s[i];
        bool triple = i + 2 < s.Length && s[i + 1] == q && s[i + 2] == q;
        int j = i + (triple ? 3 : 1);
        while (j < s.Length)
        {
            if (s[j] == '\\') { j += 2; continue; }
            if (triple ? j + 2 < s.Length && s[j] == q && s[j + 1] == q && s[j + 2] == q : s[j] == q)
                return j + (triple ? 3 : 1);
            if (!triple && s[j] == '\n') return j; // unterminated: stop at the line end
            j++;
        }
        return s.Length;
    }

    /// <summary>Physical lines joined into logical lines (open brackets, strings or a trailing backslash continue).</summary>
    public static IEnumerable<string> LogicalLines(string source, bool keepBlank = false)
    {
        int start = 0, depth = 0;
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (c is '\'' or '"') { i = SkipString(source, i); continue; }
            if (c == '#') { while (i < source.Length && source[i] != '\n') i++; continue; }
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth = Math.Max(0, depth - 1);
            else if (c == '\\' && i + 1 < source.Length && source[i + 1] == '\n') { i += 2; continue; }
            else if (c == '\n' && depth == 0)
            {
                string line = source[start..i].TrimEnd('\r');
                if (keepBlank || !IsBlankOrComment(line))
                    yield return line;
                start = i + 1;
            }
            i++;
        }
        if (start < source.Length)
        {
            string last = source[start..].TrimEnd('\r');
            if (keepBlank || !IsBlankOrComment(last))
                yield return last;
        }
    }

    private static bool IsBlankOrComment(string line)
    {
        string t = line.Trim();
        return t.Length == 0 || t.StartsWith('#');
    }

    private static string Dedent(string text, int columns)
    {
        var lines = text.Split('\n');
        for (int k = 0; k < lines.Length; k++)
        {
            int strip = 0;
            while (strip < columns && strip < lines[k].Length && lines[k][strip] is ' ' or '\t') strip++;
            lines[k] = lines[k][strip..];
        }
        return string.Join('\n', lines);
    }

    public static string DedentBlock(string block)
    {
        var lines = block.Split('\n');
        int indent = lines.Where(l => l.Trim().Length > 0).Select(l => l.Length - l.TrimStart(' ', '\t').Length).DefaultIfEmpty(0).Min();
        return Dedent(block, indent);
    }

    [GeneratedRegex(@"^def check\(\s*candidate\s*\)\s*:[^\n]*\n", RegexOptions.Multiline)]
    private static partial Regex CheckDef();
}
