using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>
/// APPS as MapCoder ships it (`name`/`id`, `description`, `starter_code`, `sample_io` = public tests, `test_list` =
/// private tests, each `{input: str, output: [value]}`). Standard-input problems are stdio tests. Call-based problems
/// (a non-empty `starter_code`) hold one argument per input line, as Python literals or bare strings; a driver appended
/// to the solution parses them, calls the starter's function and prints the result's repr, so both kinds share the
/// stdio feedback form and the CodeContests output comparison. Problems without `sample_io` have no public tests:
/// their episode ends after one turn. Also reads the Hugging Face release (codeparrot/apps: `problem_id`, `question`,
/// `input_output`, `starter_code`; see <see cref="FromHuggingFace"/>).
/// </summary>
public static partial class AppsLoader
{
    public static IReadOnlyList<Problem> Load(string path, ICollection<string>? notes = null) =>
        DataFile.ReadProblems(path, r => r.Json.TryGetProperty("input_output", out _) ? FromHuggingFace(r) : FromRecord(r), notes);

    /// <summary>
    /// codeparrot/apps keeps all tests of a problem in one list (`input_output`: JSON text of {inputs, outputs,
    /// fn_name?}). The statement's own examples are the public tests: a stdin test whose input appears verbatim in
    /// the question is public, the rest private (docs/datasets.md "APPS"). A call-based test's arguments become one
    /// Python literal per line for the same driver as MapCoder's copy; its expected value is `outputs[i]`, unwrapped
    /// when it is a one-element list (APPS wraps return values so; its own checker accepts either form).
    /// </summary>
    private static Problem FromHuggingFace(DataRecord r)
    {
        var idElement = r.Json.TryGetProperty("problem_id", out var pid) ? pid : r.Json.TryGetProperty("id", out var i) ? i : throw r.Error("problem_id", "missing");
        string id = idElement.ValueKind == JsonValueKind.String ? idElement.GetString()! : idElement.GetRawText();
        string question = r.RequiredString("question");
        string starter = r.OptionalString("starter_code") ?? "";
        // Some problems (in the train split) have no tests at all: an empty input_output.
        if (r.OptionalString("input_output") is { } raw && raw.Trim().Length == 0)
            return new Problem { Id = "APPS/" + id, Family = ProblemFamily.Apps, Statement = question };
        var io = r.JsonOrEmbedded("input_output");
        if (io.ValueKind != JsonValueKind.Object || !io.TryGetProperty("inputs", out var inputs) || inputs.ValueKind != JsonValueKind.Array
            || !io.TryGetProperty("outputs", out var outputs) || outputs.ValueKind != JsonValueKind.Array)
            throw r.Error("input_output", "expected {\"inputs\": [...], \"outputs\": [...], \"fn_name\"?}");
        if (inputs.GetArrayLength() != outputs.GetArrayLength())
            throw r.Error("input_output", $"{inputs.GetArrayLength()} inputs but {outputs.GetArrayLength()} outputs");
        string? function = io.TryGetProperty("fn_name", out var fn) && fn.ValueKind == JsonValueKind.String ? fn.GetString() : null;
        var publicTests = new List<ProblemTest>();
        var privateTests = new List<ProblemTest>();
        for (int t = 0; t < inputs.GetArrayLength(); t++)
        {
            string where = $"input_output.inputs[{t}]";
            string input, expected;
            if (function is null)
            {
                input = Text(r, inputs[t], where);
                expected = Text(r, outputs[t], $"input_output.outputs[{t}]");
            }
            else
            {
                if (inputs[t].ValueKind != JsonValueKind.Array)
                    throw r.Error(where, "expected the list of a call's arguments");
                input = string.Join("\n", inputs[t].EnumerateArray().Select(PythonRepr));
                var value = outputs[t].ValueKind == JsonValueKind.Array && outputs[t].GetArrayLength() == 1 ? outputs[t][0] : outputs[t];
                expected = PythonRepr(value);
            }
            var test = new ProblemTest(TestCase.Stdio(input, expected), input) { Origin = where };
            bool example = function is null && input.Trim().Length > 0 && question.Contains(input.Trim(), StringComparison.Ordinal);
            (example ? publicTests : privateTests).Add(test);
        }
        string statement = question;
        string suffix = "";
        if (function is not null)
        {
            string? className = StarterClass().Match(starter) is { Success: true } c ? c.Groups[1].Value : null;
            suffix = Driver(function, className);
            statement = question.TrimEnd('\n') + "\n\nUse Call-Based format" + (starter.Trim().Length > 0 ? "\n" + starter.Trim('\n') : "");
        }
        return new Problem
        {
            Id = "APPS/" + id,
            Family = ProblemFamily.Apps,
            Statement = statement,
            PublicTests = publicTests,
            PrivateTests = privateTests,
            CodeSuffix = suffix,
            Comparison = Comparison.CodeContests,
        };
    }

    /// <summary>A stdin test's text: a string, or a list of lines (APPS has both).</summary>
    private static string Text(DataRecord r, JsonElement v, string where) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.Array when v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String) => string.Join("\n", v.EnumerateArray().Select(x => x.GetString())),
        _ => throw r.Error(where, $"expected a string or a list of lines, found {DataRecord.Describe(v.ValueKind)}"),
    };

    private static Problem FromRecord(DataRecord r)
    {
        string id = r.OptionalString("id") ?? r.RequiredString("name");
        string description = r.RequiredString("description");
        string starter = r.OptionalString("starter_code") ?? "";
        bool callBased = starter.Trim().Length > 0;
        string suffix = "";
        string statement = description;
        if (callBased)
        {
            var function = StarterFunction().Match(starter);
            if (!function.Success)
                throw r.Error("starter_code", "no `def name(...)` in the starter code");
            string? className = StarterClass().Match(starter) is { Success: true } c ? c.Groups[1].Value : null;
            suffix = Driver(function.Groups[1].Value, className);
            // APPS' own prompt convention names the format and shows the starter code.
            statement = description.TrimEnd('\n') + "\n\nUse Call-Based format\n" + starter.Trim('\n');
        }
        return new Problem
        {
            Id = "APPS/" + id,
            Family = ProblemFamily.Apps,
            Statement = statement,
            PublicTests = Tests(r, "sample_io", callBased),
            PrivateTests = Tests(r, "test_list", callBased),
            CodeSuffix = suffix,
            Comparison = Comparison.CodeContests,
        };
    }

    private static List<ProblemTest> Tests(DataRecord r, string field, bool callBased)
    {
        var tests = new List<ProblemTest>();
        var array = r.JsonOrEmbedded(field);
        if (array.ValueKind != JsonValueKind.Array)
            throw r.Error(field, $"expected an array of {{input, output}}, found {DataRecord.Describe(array.ValueKind)}");
        foreach (var item in array.EnumerateArray())
        {
            string where = $"{field}[{tests.Count}]";
            if (item.ValueKind != JsonValueKind.Object
                || !item.TryGetProperty("input", out var input) || input.ValueKind != JsonValueKind.String
                || !item.TryGetProperty("output", out var output) || output.ValueKind != JsonValueKind.Array || output.GetArrayLength() != 1)
                throw r.Error(where, "expected {\"input\": string, \"output\": [one value]}");
            var value = output[0];
            string expected;
            if (callBased)
                expected = PythonRepr(value);
            else
                expected = value.ValueKind == JsonValueKind.String ? value.GetString()! : throw r.Error($"{where}.output[0]", "expected a string");
            tests.Add(new ProblemTest(TestCase.Stdio(input.GetString()!, expected), input.GetString()!));
        }
        return tests;
    }

    /// <summary>
    /// Reads the arguments from stdin (one per line; a single-parameter function whose input has several lines gets
    /// the whole text), calls the function and prints repr(result) with tuples shown as lists (APPS compares lists).
    /// </summary>
    private static string Driver(string function, string? className) => $$"""


        def __rlef_apps_main():
            import sys, ast, inspect
            text = sys.stdin.read()
            if text.endswith("\n"):
                text = text[:-1]
            fn = {{(className is null ? function : $"{className}().{function}")}}
            lines = text.split("\n")
            try:
                count = len(inspect.signature(fn).parameters)
            except (TypeError, ValueError):
                count = len(lines)
            if count == 1 and len(lines) != 1:
                lines = [text]
            def parse(line):
                try:
                    return ast.literal_eval(line)
                except Exception:
                    return line
            def lists(v):
                if isinstance(v, (list, tuple)):
                    return [lists(x) for x in v]
                if isinstance(v, dict):
                    return {k: lists(x) for k, x in v.items()}
                return v
            print(repr(lists(fn(*[parse(line) for line in lines]))))
        __rlef_apps_main()
        """;

    /// <summary>Python's repr of a JSON value (what the driver prints for an equal result).</summary>
    public static string PythonRepr(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Null: return "None";
            case JsonValueKind.True: return "True";
            case JsonValueKind.False: return "False";
            case JsonValueKind.Number:
                string raw = v.GetRawText();
                if (v.TryGetInt64(out _) || !raw.Contains('.') && !raw.Contains('e') && !raw.Contains('E'))
                    return raw;
                return FloatRepr(v.GetDouble());
            case JsonValueKind.String: return StringRepr(v.GetString()!);
            case JsonValueKind.Array: return "[" + string.Join(", ", v.EnumerateArray().Select(PythonRepr)) + "]";
            case JsonValueKind.Object:
                return "{" + string.Join(", ", v.EnumerateObject().Select(p => StringRepr(p.Name) + ": " + PythonRepr(p.Value))) + "}";
            default: throw new ArgumentException($"unexpected JSON value {v.ValueKind}");
        }
    }

    /// <summary>Python's float repr: shortest round-trip digits, always with a '.' or an exponent.</summary>
    private static string FloatRepr(double d)
    {
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (double.IsNaN(d)) return "nan";
        string r = d.ToString("R", CultureInfo.InvariantCulture); // "1E-05", "4.5", "3"
        int at = r.IndexOf('E');
        if (at >= 0)
        {
            int exponent = int.Parse(r[(at + 1)..], CultureInfo.InvariantCulture);
            return $"{r[..at]}e{(exponent < 0 ? "-" : "+")}{Math.Abs(exponent):00}";
        }
        return r.Contains('.') ? r : r + ".0";
    }

    private static string StringRepr(string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append($"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append(quote).ToString();
    }

    [GeneratedRegex(@"def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(")]
    private static partial Regex StarterFunction();

    [GeneratedRegex(@"class\s+([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex StarterClass();
}
