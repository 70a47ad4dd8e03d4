using System.Text.Json;

namespace Rlef.Tests;

/// <summary>LiveCodeBench code_generation_lite records as the release files hold them (every field a string).</summary>
public static class LiveCodeBenchRecords
{
    /// <summary>The private tests of <see cref="Functional"/>'s problem, as JSON text (before any pickling).</summary>
    public const string FunctionalPrivateTests =
        """[{"input": "[1, 2, 3]\n2", "output": "[2, 3]", "testtype": "functional"}, {"input": "[5]\n0", "output": "[]", "testtype": "functional"}]""";

    public static string Stdin(string id = "abc001_a", string date = "2023-08-05T00:00:00", string? privateTests = null) => JsonSerializer.Serialize(new
    {
        question_title = "Sum",
        question_content = "Read two integers A and B and print A+B.",
        platform = "atcoder",
        question_id = id,
        contest_id = "abc001",
        contest_date = date,
        starter_code = "",
        difficulty = "easy",
        public_test_cases = """[{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]""",
        private_test_cases = privateTests ?? """[{"input": "10 20\n", "output": "30\n", "testtype": "stdin"}, {"input": "-1 1\n", "output": "0\n", "testtype": "stdin"}]""",
        metadata = "{}",
    });

    public static string Functional(string privateTests, string id = "3000", string date = "2024-01-06T00:00:00", string metadata = """{"func_name": "tailAfter"}""") =>
        JsonSerializer.Serialize(new
        {
            question_title = "Tail after k",
            question_content = "Return the last k elements of nums.",
            platform = "leetcode",
            question_id = id,
            contest_id = "weekly-contest-380",
            contest_date = date,
            starter_code = "class Solution:\n    def tailAfter(self, nums: List[int], k: int) -> List[int]:\n        ",
            difficulty = "easy",
            public_test_cases = """[{"input": "[4, 5, 6]\n1", "output": "[6]", "testtype": "functional"}]""",
            private_test_cases = privateTests,
            metadata,
        });
}
