using System.Text.Json;
using Parquet.Serialization;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Tests;

/// <summary>The Hugging Face releases `rlef data fetch` gets (codeparrot/apps, google-research-datasets/mbpp parquet).</summary>
public sealed class HuggingFaceSchemaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-hf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string AppsRecord(object problemId, object? inputOutput, string starter = "") => JsonSerializer.Serialize(new
    {
        problem_id = problemId,
        question = "Print twice the number.\n\n-----Example-----\nInput\n3\n\nOutput\n6\n",
        solutions = "[\"print(2 * int(input()))\"]",
        input_output = inputOutput is string s ? s : JsonSerializer.Serialize(inputOutput),
        difficulty = "introductory",
        url = "https://example.invalid/problem",
        starter_code = starter,
    });

    [Fact]
    public void CodeparrotAppsTakesTheStatementsExamplesAsPublicTests()
    {
        string path = Path.Combine(_dir, "test.jsonl");
        File.WriteAllLines(path,
        [
            AppsRecord(4000, new { inputs = new[] { "3\n", "10\n" }, outputs = new[] { "6\n", "20\n" } }),
            AppsRecord("4001", new { inputs = new object[] { new object[] { 3, "a" }, new object[] { 1, "b" } }, outputs = new object[] { new[] { "aaa" }, new[] { new[] { 1 } } }, fn_name = "repeat" },
                "class Solution:\n    def repeat(self, n, s):\n        "),
            AppsRecord(4002, ""),
        ]);
        var problems = AppsLoader.Load(path);
        Assert.Equal(["APPS/4000", "APPS/4001", "APPS/4002"], problems.Select(p => p.Id));
        Assert.Equal(["3\n"], problems[0].PublicTests.Select(t => t.Case.Input));
        Assert.Equal(["10\n"], problems[0].PrivateTests.Select(t => t.Case.Input));

        var call = problems[1];
        Assert.Empty(call.PublicTests);
        Assert.Equal(["3\n'a'", "1\n'b'"], call.PrivateTests.Select(t => t.Case.Input));
        Assert.Equal(["'aaa'", "[1]"], call.PrivateTests.Select(t => t.Case.ExpectedOutput));
        Assert.Contains("Solution().repeat", call.CodeSuffix);
        Assert.EndsWith("Use Call-Based format\nclass Solution:\n    def repeat(self, n, s):", call.Statement.TrimEnd());
        Assert.False(problems[2].HasTests);

        File.WriteAllLines(path, [AppsRecord(1, new { inputs = new[] { "1" }, outputs = new[] { "1", "2" } })]);
        var e = Assert.Throws<DatasetFormatException>(() => AppsLoader.Load(path));
        Assert.Equal((1, "input_output"), (e.Line, e.Field));
    }

    public sealed class MbppRow
    {
        public int task_id { get; set; }
        public string text { get; set; } = "";
        public string code { get; set; } = "";
        public List<string> test_list { get; set; } = [];
        public string test_setup_code { get; set; } = "";
        public List<string> challenge_test_list { get; set; } = [];
    }

    [Fact]
    public async Task MbppParquetLoadsLikeTheJsonRelease()
    {
        string path = Path.Combine(_dir, "test.parquet");
        await using (var stream = File.Create(path))
            await ParquetSerializer.SerializeAsync(new[]
            {
                new MbppRow { task_id = 11, text = "Write a function to double a number.", code = "def double(x):\n    return 2 * x",
                    test_list = ["assert double(2) == 4", "assert double(0) == 0"] },
            }, stream);
        var problem = Assert.Single(FunctionBenchmarkLoader.LoadMbpp(path, plus: false));
        Assert.Equal(("Mbpp/11", "double"), (problem.Id, problem.EntryPoint));
        Assert.Equal(2, problem.PublicTests.Count);
        Assert.Empty(problem.PrivateTests);
    }
}
