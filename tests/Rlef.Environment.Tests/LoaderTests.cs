using Rlef.Environment.Problems;
using Rlef.Sandbox;
using Rlef.Tests;

namespace Rlef.Environment.Tests;

/// <summary>Every loader on the shared benchmark files, and clear errors on malformed records.</summary>
public sealed class LoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-loader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IReadOnlyList<Problem> Load(ProblemFamily family, string relative) => DatasetLoader.Load(family, RepoPaths.RequireData(relative));

    [DataFact("humanevalplus/HumanEvalPlus.jsonl.gz")]
    public void HumanEvalPlusHasBaseAndPlusInputsAndOriginalAssertsAsPublicTests()
    {
        var problems = Load(ProblemFamily.HumanEvalPlus, "humanevalplus/HumanEvalPlus.jsonl.gz");
        Assert.Equal(164, problems.Count);
        Assert.Equal(1570 + 122683, problems.Sum(p => p.PrivateTests.Count));
        var first = problems[0];
        Assert.Equal("HumanEval/0", first.Id);
        Assert.StartsWith("```python\nfrom typing import List", first.AssistantPrefix);
        Assert.Equal(7, first.PublicTests.Count);
        Assert.Equal("assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True", first.PublicTests[0].Display);
        Assert.All(first.PrivateTests, t => Assert.Equal(TestKind.Call, t.Case.Kind));
        Assert.All(problems, p => Assert.NotEmpty(p.PublicTests));
    }

    [DataFact("humaneval/HumanEval.jsonl.gz")]
    public void HumanEvalLoadsTheCheckAssertsAsTests()
    {
        var problems = Load(ProblemFamily.HumanEval, "humaneval/HumanEval.jsonl.gz");
        Assert.Equal(164, problems.Count);
        Assert.All(problems, p => Assert.Empty(p.PrivateTests));
        Assert.All(problems, p => Assert.All(p.PublicTests, t => Assert.Contains("assert", t.Display)));
    }

    [DataFact("mbppplus/MbppPlus.jsonl.gz")]
    public void MbppPlusUsesTheOriginalAssertsAndRestoresTupleInputs()
    {
        var problems = Load(ProblemFamily.MbppPlus, "mbppplus/MbppPlus.jsonl.gz");
        Assert.Equal(378, problems.Count);
        Assert.Equal(1174 + 39841, problems.Sum(p => p.PrivateTests.Count));
        var p2 = problems.Single(p => p.Id == "Mbpp/2");
        Assert.Equal("Write a function to find the shared elements from the given two lists.", p2.Statement);
        Assert.Equal(3, p2.PublicTests.Count);
        Assert.Equal(MbppPlusInputs.WrapperName, p2.PrivateTests[0].Case.EntryPoint);
        Assert.Contains("tuple(x) for x in a", p2.CodeSuffix);
        Assert.StartsWith("assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)", p2.PromptTests);
    }

    [DataFact("mbpp/mbpp.jsonl", "mbpp/sanitized-mbpp.json")]
    public void MbppOriginalAndSanitizedLoad()
    {
        var full = Load(ProblemFamily.Mbpp, "mbpp/mbpp.jsonl");
        var sanitized = Load(ProblemFamily.Mbpp, "mbpp/sanitized-mbpp.json");
        Assert.Equal(974, full.Count);
        Assert.Equal(427, sanitized.Count);
        Assert.Equal(16, full.Sum(p => p.PrivateTests.Count)); // challenge_test_list
        Assert.All(full, p => Assert.Equal(3, p.PublicTests.Count));
    }

    [DataFact("apps/APPS_selected150_mapcoder.jsonl")]
    public void AppsSplitsSampleAndHiddenTestsAndDrivesCallBasedProblems()
    {
        var problems = Load(ProblemFamily.Apps, "apps/APPS_selected150_mapcoder.jsonl");
        Assert.Equal(150, problems.Count);
        Assert.Equal(436, problems.Sum(p => p.PublicTests.Count));
        Assert.Equal(1842, problems.Sum(p => p.PrivateTests.Count));
        Assert.Equal(98, problems.Count(p => p.CodeSuffix.Length > 0));
        var zonk = problems.Single(p => p.Id == "APPS/3554");
        Assert.Contains("Use Call-Based format\ndef get_score(dice):", zonk.Statement);
        Assert.Equal("'Zonk'", zonk.PublicTests.Single(t => t.Display == "[2,3,4,3,6,6]").Case.ExpectedOutput);
    }

    [DataFact("codecontests/CodeContests_test165_prompts_codet.jsonl")]
    public void TheSharedCodeContestsFileLoadsStatementsWithoutTests()
    {
        var problems = Load(ProblemFamily.CodeContests, "codecontests/CodeContests_test165_prompts_codet.jsonl");
        Assert.Equal(165, problems.Count);
        Assert.All(problems, p => Assert.False(p.HasTests));
        Assert.Equal("1575_A. Another Sorting Problem", problems[0].Id);
        Assert.StartsWith("Andi and Budi", problems[0].Statement);
        Assert.Equal(2, problems[0].Limits.WallTimeSeconds);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void CodeContestsHuggingFaceRecordsLoadWithLimits()
    {
        string path = Write("cc.jsonl",
            """{"name": "1A. Sum", "description": "Add.", "public_tests": {"input": ["1 2\n"], "output": ["3\n"]}, "private_tests": {"input": ["2 2\n"], "output": ["4\n"]}, "generated_tests": {"input": ["0 0\n", "5 5\n"], "output": ["0\n", "10\n"]}, "time_limit": {"seconds": 2, "nanos": 500000000}, "memory_limit_bytes": 268435456}""" + "\n" +
            """{"name": "1B", "description": "x", "public_tests": {"input": [], "output": []}, "time_limit": 3}""" + "\n");
        var problems = CodeContestsLoader.Load(path);
        Assert.Equal(2, problems.Count);
        Assert.Single(problems[0].PublicTests);
        Assert.Equal(3, problems[0].PrivateTests.Count);
        Assert.Equal(2.5, problems[0].Limits.WallTimeSeconds);
        Assert.Equal(256, problems[0].Limits.MemoryMb);
        Assert.Equal(3, problems[1].Limits.CpuTimeSeconds);
    }

    [Theory]
    [InlineData("""{"name": "x", "description": "d", "public_tests": {"input": ["1"], "output": []}}""", 2, "public_tests", "1 inputs but 0 outputs")]
    [InlineData("""{"name": "x", "description": "d"}""", 2, "public_tests", "missing")]
    [InlineData("""{"name": 5, "description": "d", "public_tests": {"input": [], "output": []}}""", 2, "name", "expected a string, found a number")]
    [InlineData("""{"name": "x", "description": "d", "public_tests": {"input": [1], "output": ["2"]}}""", 2, "public_tests.input[0]", "expected a string")]
    [InlineData("{not json", 2, null, "invalid JSON")]
    public void MalformedCodeContestsRecordsNameFileLineAndField(string badLine, int line, string? field, string message)
    {
        string good = """{"name": "ok", "description": "d", "public_tests": {"input": [], "output": []}}""";
        string path = Write("bad.jsonl", good + "\n" + badLine + "\n");
        var e = Assert.Throws<DatasetFormatException>(() => CodeContestsLoader.Load(path));
        Assert.Equal(path, e.Path);
        Assert.Equal(line, e.Line);
        Assert.Equal(field, e.Field);
        Assert.Contains(message, e.Message);
        Assert.StartsWith($"{path}:{line}:", e.Message);
    }

    [Fact]
    public void MalformedEvalplusRecordsNameTheField()
    {
        string path = Write("he.jsonl",
            """{"task_id": "HumanEval/0", "prompt": "def f(x):\n", "entry_point": "f", "canonical_solution": "    return x\n", "test": "def check(candidate):\n    assert candidate(1) == 1\n", "base_input": "[[1]]", "plus_input": "not json", "atol": 0}""" + "\n");
        var e = Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(ProblemFamily.HumanEvalPlus, path));
        Assert.Equal("plus_input", e.Field);
        string noCheck = Write("he2.jsonl",
            """{"task_id": "HumanEval/0", "prompt": "def f(x):\n", "entry_point": "f", "canonical_solution": "    return x\n", "test": "assert f(1) == 1\n"}""" + "\n");
        Assert.Equal("test", Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(ProblemFamily.HumanEval, noCheck)).Field);
    }

    [Fact]
    public void GzipIsDetectedByContentNotName()
    {
        string plain = Write("apps.jsonl",
            """{"name": "1", "id": "1", "description": "d", "starter_code": "", "sample_io": [{"input": "1\n", "output": ["1\n"]}], "test_list": []}""" + "\n");
        byte[] gz;
        using (var ms = new MemoryStream())
        {
            using (var z = new System.IO.Compression.GZipStream(ms, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
                z.Write(File.ReadAllBytes(plain));
            gz = ms.ToArray();
        }
        string zipped = Path.Combine(_dir, "apps-no-extension");
        File.WriteAllBytes(zipped, gz);
        Assert.Single(AppsLoader.Load(zipped));
    }
}
