using Rlef.Environment.Synthetic;
using Xunit.Abstractions;

namespace Rlef.Environment.Tests.Synthetic;

// Runs the generated Python with the real interpreter: references must pass every test (so the C# evaluation of the
// chain and Python agree on every expected output), incorrect solutions must fail some hidden test.
public sealed class SyntheticPythonTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("easy")]
    [InlineData("medium")]
    [InlineData("hard")]
    public async Task References_pass_and_incorrect_solutions_fail_with_real_python(string difficulty)
    {
        string? python = PythonProcessExecutor.FindPython();
        if (python == null)
        {
            output.WriteLine("skipped: python3 not found");
            return;
        }
        var splits = SyntheticDataset.GenerateSplits(20261123, 40, 10, 30, Difficulty.FromName(difficulty));
        var problems = splits.All.SelectMany(s => s.Problems).ToList();
        await using var executor = new PythonProcessExecutor(python);
        var report = await SyntheticValidator.ValidateAsync(problems, executor);

        output.WriteLine($"{difficulty}: {report.Problems} problems, references passing all tests {report.ReferencesPassingAll}; " +
            $"{report.IncorrectSolutions} incorrect solutions, failing a hidden test {report.IncorrectFailingHidden}, " +
            $"failing a public test {report.IncorrectFailingPublic} ({report.IncorrectFailingPublicShare:P0})");
        Assert.True(report.Errors.Count == 0, string.Join("\n", report.Errors.Take(10)));
        Assert.True(report.Ok);
        Assert.True(report.IncorrectSolutions >= problems.Count);
    }
}
