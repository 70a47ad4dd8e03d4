using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>
/// HumanEval, HumanEval+ (evalplus), MBPP (original and sanitized) and MBPP+ (evalplus). Public tests are the
/// original benchmark's asserts, rewritten unittest-style (<see cref="PythonAsserts"/>); they give feedback.
/// For the + variants, the private tests are evalplus' `base_input` and `plus_input` called on the entry point,
/// whose expected values are not in the data: <see cref="ExpectedValues"/> fills them by running the canonical
/// solution once. Until then those tests carry ExpectedValue = null.
/// </summary>
public static partial class FunctionBenchmarkLoader
{
    /// <summary>
    /// evalplus runs with a 4 GB memory cap, and some reference outputs are large (HumanEval/130's `tri(1000000)` is
    /// a million numbers): the call tests of the + variants get evalplus' memory and room for such values.
    /// </summary>
    public static readonly ExecutionLimits EvalplusLimits = new() { MemoryMb = 4096, OutputBytes = 64 << 20 };

    /// <summary>MBPP+'s asserts use math and sys without importing them (evalplus' `test_imports` supplies them).</summary>
    private const string MbppPlusTestImports = "import math\nimport sys\n";

    public static IReadOnlyList<Problem> LoadHumanEval(string path, bool plus, ICollection<string>? notes = null) =>
        DataFile.ReadProblems(path, r => HumanEvalProblem(r, plus), notes);

    public static IReadOnlyList<Problem> LoadMbpp(string path, bool plus, ICollection<string>? notes = null) =>
        DataFile.ReadProblems(path, r => plus ? MbppPlusProblem(r) : MbppProblem(r), notes);

    private static Problem HumanEvalProblem(DataRecord r, bool plus)
    {
        string id = r.RequiredString("task_id");
        string prompt = r.RequiredString("prompt");
        string entry = r.RequiredString("entry_point");
        string canonical = prompt + r.RequiredString("canonical_solution");
        var (prelude, body) = PythonAsserts.SplitCheckFunction(r.RequiredString("test"), m => r.Error("test", m));
        return new Problem
        {
            Id = id,
            Family = plus ? ProblemFamily.HumanEvalPlus : ProblemFamily.HumanEval,
            Statement = prompt,
            EntryPoint = entry,
            AssistantPrefix = "```python\n" + prompt,
            PublicTests = AssertTests(body, prelude, entry, r, "test"),
            PrivateTests = plus ? CallTests(r, entry, entry) : [],
            Comparison = Comparison.ValueTolerance,
            Limits = plus ? EvalplusLimits : new ExecutionLimits(),
            CanonicalSolution = canonical,
        };
    }

    private static Problem MbppPlusProblem(DataRecord r)
    {
        string id = r.RequiredString("task_id");
        string entry = r.RequiredString("entry_point");
        string assertion = r.RequiredString("assertion");
        var (callee, suffix) = MbppPlusInputs.Adapter(id, entry);
        return new Problem
        {
            Id = id,
            Family = ProblemFamily.MbppPlus,
            Statement = MbppPlusDescription(r),
            EntryPoint = entry,
            PromptTests = assertion.Trim('\n'),
            PublicTests = AssertTests(assertion, MbppPlusTestImports, entry, r, "assertion"),
            PrivateTests = CallTests(r, callee, entry),
            CodeSuffix = suffix,
            Comparison = Comparison.ValueTolerance,
            Limits = EvalplusLimits,
            CanonicalSolution = r.RequiredString("canonical_solution"),
        };
    }

    /// <summary>mbpp.jsonl (`text`, `code`, `test_list`, `test_setup_code`, `challenge_test_list`) or
    /// sanitized-mbpp.json (`prompt`, `code`, `test_imports`, `test_list`).</summary>
    private static Problem MbppProblem(DataRecord r)
    {
        var idElement = r.Json.TryGetProperty("task_id", out var t) ? t : throw r.Error("task_id", "missing");
        string id = "Mbpp/" + (idElement.ValueKind == JsonValueKind.Number ? idElement.GetRawText() : idElement.GetString());
        bool sanitized = r.Json.TryGetProperty("prompt", out _) && !r.Json.TryGetProperty("text", out _);
        string statement = sanitized ? r.RequiredString("prompt") : r.RequiredString("text");
        string code = r.RequiredString("code");
        var testList = StringArray(r, "test_list");
        string setup = sanitized
            ? string.Join("\n", StringArray(r, "test_imports"))
            : r.OptionalString("test_setup_code") ?? "";
        var challenge = !sanitized && r.Json.TryGetProperty("challenge_test_list", out _) ? StringArray(r, "challenge_test_list") : [];
        string entry = EntryPoint(code, testList) ?? throw r.Error("test_list", "no function defined in `code` is called by the asserts");
        return new Problem
        {
            Id = id,
            Family = ProblemFamily.Mbpp,
            Statement = statement,
            EntryPoint = entry,
            PromptTests = string.Join("\n", testList),
            PublicTests = AssertTests(string.Join("\n", testList), setup, entry, r, "test_list"),
            PrivateTests = challenge.Count > 0 ? AssertTests(string.Join("\n", challenge), setup, entry, r, "challenge_test_list") : [],
            Comparison = Comparison.ValueTolerance,
            CanonicalSolution = code,
        };
    }

    /// <summary>Each top-level statement of an assert block becomes one test; statements that are not asserts
    /// (imports, assignments) are setup that runs before every later test.</summary>
    private static List<ProblemTest> AssertTests(string block, string prelude, string entry, DataRecord r, string field)
    {
        var tests = new List<ProblemTest>();
        var setup = new StringBuilder();
        foreach (string statement in PythonAsserts.TopLevelStatements(PythonAsserts.DedentBlock(block.Replace("\r\n", "\n"))))
        {
            string named = Candidate().Replace(statement, entry);
            if (!ContainsAssert().IsMatch(named))
            {
                setup.Append(named).Append('\n');
                continue;
            }
            string source = PythonAsserts.Helpers + prelude.Trim('\n') + "\n" + setup + PythonAsserts.Rewrite(named) + "\n";
            tests.Add(new ProblemTest(TestCase.Assert(source), named));
        }
        if (tests.Count == 0)
            throw r.Error(field, "no assert statements");
        return tests;
    }

    private static List<ProblemTest> CallTests(DataRecord r, string callee, string displayName)
    {
        double atol = Atol(r);
        var tests = new List<ProblemTest>();
        foreach (string field in new[] { "base_input", "plus_input" })
        {
            var inputs = r.JsonOrEmbedded(field);
            // MBPP+ v0.2.0 writes Mbpp/793's empty plus_input as {} instead of [].
            if (inputs.ValueKind == JsonValueKind.Object && !inputs.EnumerateObject().Any())
                continue;
            if (inputs.ValueKind != JsonValueKind.Array)
                throw r.Error(field, $"expected an array of argument lists, found {DataRecord.Describe(inputs.ValueKind)}");
            int index = 0;
            foreach (var args in inputs.EnumerateArray())
            {
                if (args.ValueKind != JsonValueKind.Array)
                    throw r.Error($"{field}[{index}]", "expected an argument list");
                string json = PythonJson.RestoreNonFinite(args.GetRawText());
                tests.Add(new ProblemTest(TestCase.Call(callee, json, expectedValue: null, atol), $"{displayName}(*{Shorten(json)})")
                {
                    Origin = $"{field}[{index}]",
                });
                index++;
            }
        }
        return tests;
    }

    private static double Atol(DataRecord r)
    {
        if (!r.Json.TryGetProperty("atol", out _))
            return 0;
        var atol = r.JsonOrEmbedded("atol");
        return atol.ValueKind == JsonValueKind.Number ? atol.GetDouble() : throw r.Error("atol", "expected a number");
    }

    /// <summary>MBPP+'s prompt is a docstring holding the task text and one example assert; the text is `${problem}`.</summary>
    private static string MbppPlusDescription(DataRecord r)
    {
        string prompt = r.RequiredString("prompt").Trim().Trim('"').Trim();
        var lines = prompt.Split('\n').Where(l => !l.TrimStart().StartsWith("assert", StringComparison.Ordinal));
        string text = string.Join("\n", lines).Trim();
        return text.Length > 0 ? text : throw r.Error("prompt", "no task description in the docstring");
    }

    private static List<string> StringArray(DataRecord r, string field)
    {
        var array = r.Required(field, JsonValueKind.Array);
        var list = new List<string>();
        foreach (var item in array.EnumerateArray())
            list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw r.Error($"{field}[{list.Count}]", "expected a string"));
        return list;
    }

    /// <summary>MBPP has no entry_point field: it is the first function the reference code defines that the asserts call.</summary>
    private static string? EntryPoint(string code, IReadOnlyList<string> asserts)
    {
        string all = string.Join("\n", asserts);
        foreach (Match m in FunctionDef().Matches(code))
            if (Regex.IsMatch(all, $@"\b{Regex.Escape(m.Groups[1].Value)}\s*\("))
                return m.Groups[1].Value;
        return null;
    }

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..100] + " ... " + s[^100..];

    [GeneratedRegex(@"\bcandidate\b")]
    private static partial Regex Candidate();

    [GeneratedRegex(@"(^|\n)\s*assert\b")]
    private static partial Regex ContainsAssert();

    [GeneratedRegex(@"^\s*def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", RegexOptions.Multiline)]
    private static partial Regex FunctionDef();
}
