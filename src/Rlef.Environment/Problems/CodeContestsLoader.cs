using System.Text.Json;
using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>
/// CodeContests in the Hugging Face schema (deepmind/code_contests exported as JSON/JSONL): `name`, `description`,
/// `public_tests`/`private_tests`/`generated_tests` as `{input: [...], output: [...]}`, `time_limit` as
/// `{seconds, nanos}` or a number of seconds, `memory_limit_bytes`. Also reads the statement-only copy of
/// CodeT (CodeContests_test165_prompts_codet.jsonl: CodeT's `task_id`/`prompt`/`meta_data` records): those problems load without tests, and
/// <see cref="Problem.HasTests"/> says so.
/// </summary>
public static class CodeContestsLoader
{
    public static IReadOnlyList<Problem> Load(string path)
    {
        var problems = new List<Problem>();
        foreach (var record in DataFile.ReadRecords(path))
            problems.Add(record.Json.TryGetProperty("description", out _) ? FromHuggingFace(record) : FromStatementOnly(record));
        return problems;
    }

    private static Problem FromHuggingFace(DataRecord r)
    {
        string name = r.RequiredString("name");
        var publicTests = Tests(r, "public_tests", required: true);
        var privateTests = Tests(r, "private_tests", required: false).Concat(Tests(r, "generated_tests", required: false)).ToList();
        var limits = new ExecutionLimits();
        if (TimeLimitSeconds(r, r.Json, "time_limit") is double seconds and > 0)
            limits = limits with { CpuTimeSeconds = seconds, WallTimeSeconds = seconds };
        if (r.Json.TryGetProperty("memory_limit_bytes", out var mem) && mem.ValueKind == JsonValueKind.Number)
        {
            if (!mem.TryGetInt64(out long bytes) || bytes < 0)
                throw r.Error("memory_limit_bytes", "expected a non-negative integer");
            if (bytes > 0)
                limits = limits with { MemoryMb = (int)Math.Max(1, bytes / (1024 * 1024)) };
        }
        return new Problem
        {
            Id = name,
            Family = ProblemFamily.CodeContests,
            Statement = r.RequiredString("description"),
            PublicTests = publicTests,
            PrivateTests = privateTests,
            Comparison = Comparison.CodeContests,
            Limits = limits,
            CanonicalSolution = FirstPython3Solution(r),
        };
    }

    // contest_problem.proto's Language enum: PYTHON3 = 3 (PYTHON = 1 is Python 2, whose solutions may not run here).
    private const int Python3 = 3;

    /// <summary>The first Python 3 entry of `solutions{language[], solution[]}`, or null (`--policy canonical` needs one).</summary>
    private static string? FirstPython3Solution(DataRecord r)
    {
        if (!r.Json.TryGetProperty("solutions", out var solutions) || solutions.ValueKind != JsonValueKind.Object)
            return null;
        if (!solutions.TryGetProperty("language", out var languages) || languages.ValueKind != JsonValueKind.Array ||
            !solutions.TryGetProperty("solution", out var texts) || texts.ValueKind != JsonValueKind.Array)
            throw r.Error("solutions", "expected {language: [...], solution: [...]}");
        if (languages.GetArrayLength() != texts.GetArrayLength())
            throw r.Error("solutions", $"{languages.GetArrayLength()} languages but {texts.GetArrayLength()} solutions");
        for (int i = 0; i < languages.GetArrayLength(); i++)
            if (languages[i].ValueKind == JsonValueKind.Number && languages[i].GetInt32() == Python3)
                return texts[i].ValueKind == JsonValueKind.String ? texts[i].GetString() : throw r.Error($"solutions.solution[{i}]", "expected a string");
        return null;
    }

    private static List<ProblemTest> Tests(DataRecord r, string field, bool required)
    {
        if (!r.Json.TryGetProperty(field, out var tests) || tests.ValueKind == JsonValueKind.Null)
            return required ? throw r.Error(field, "missing") : [];
        if (tests.ValueKind != JsonValueKind.Object)
            throw r.Error(field, $"expected an object {{input: [...], output: [...]}}, found {DataRecord.Describe(tests.ValueKind)}");
        var inputs = Strings(r, tests, field, "input");
        var outputs = Strings(r, tests, field, "output");
        if (inputs.Count != outputs.Count)
            throw r.Error(field, $"{inputs.Count} inputs but {outputs.Count} outputs");
        return inputs.Zip(outputs, (i, o) => new ProblemTest(TestCase.Stdio(i, o), i)).ToList();
    }

    private static List<string> Strings(DataRecord r, JsonElement tests, string field, string member)
    {
        if (!tests.TryGetProperty(member, out var array) || array.ValueKind != JsonValueKind.Array)
            throw r.Error($"{field}.{member}", "missing or not an array");
        var list = new List<string>();
        foreach (var item in array.EnumerateArray())
            list.Add(item.ValueKind == JsonValueKind.String
                ? item.GetString()!
                : throw r.Error($"{field}.{member}[{list.Count}]", $"expected a string, found {DataRecord.Describe(item.ValueKind)}"));
        return list;
    }

    private static double? TimeLimitSeconds(DataRecord r, JsonElement owner, string field)
    {
        if (owner.ValueKind != JsonValueKind.Object || !owner.TryGetProperty("time_limit", out var t) || t.ValueKind == JsonValueKind.Null)
            return null;
        if (t.ValueKind == JsonValueKind.Number)
            return t.GetDouble();
        if (t.ValueKind != JsonValueKind.Object)
            throw r.Error(field, "expected {seconds, nanos} or a number of seconds");
        double seconds = t.TryGetProperty("seconds", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetDouble() : 0;
        double nanos = t.TryGetProperty("nanos", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetDouble() : 0;
        return seconds + nanos * 1e-9;
    }

    /// <summary>CodeT's zero-shot file: the statement sits in a `'''...'''` docstring above a `solution` stub.</summary>
    private static Problem FromStatementOnly(DataRecord r)
    {
        string taskId = r.RequiredString("task_id");
        string prompt = r.RequiredString("prompt");
        int start = prompt.IndexOf("'''", StringComparison.Ordinal);
        int end = start < 0 ? -1 : prompt.IndexOf("'''", start + 3, StringComparison.Ordinal);
        if (end < 0)
            throw r.Error("prompt", "no '''-quoted statement found (neither the Hugging Face schema nor CodeT's statement-only format)");
        string name = r.Json.TryGetProperty("meta_data", out var meta) && meta.ValueKind == JsonValueKind.Object
            && meta.TryGetProperty("task_name", out var tn) && tn.ValueKind == JsonValueKind.String ? tn.GetString()! : taskId;
        var limits = new ExecutionLimits();
        if (TimeLimitSeconds(r, meta, "meta_data.time_limit") is double seconds and > 0)
            limits = limits with { CpuTimeSeconds = seconds, WallTimeSeconds = seconds };
        return new Problem
        {
            Id = name,
            Family = ProblemFamily.CodeContests,
            Statement = prompt[(start + 3)..end].Trim('\n'),
            Limits = limits,
        };
    }
}
