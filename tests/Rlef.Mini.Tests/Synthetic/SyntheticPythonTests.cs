using Rlef.Mini.Synthetic;
using Rlef.Sandbox;
using Xunit.Abstractions;

namespace Rlef.Mini.Tests.Synthetic;

// Runs the generated Python in the sandbox with the real interpreter: references must pass every test (so the C#
// evaluation of the chain and Python agree on every expected output), incorrect solutions must fail a hidden test.
public sealed class SyntheticPythonTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("easy", 20)]
    [InlineData("medium", 40)]
    [InlineData("hard", 20)]
    [InlineData("easy:position=1", 40)]   // positions counted from 1 or 0, and their mutants
    [InlineData("easy:position=1,open=1", 40)]   // positions with open base and occurrence, and their mutants
    public async Task References_pass_and_incorrect_solutions_fail_in_the_sandbox(string difficulty, int count)
    {
        SandboxPool pool;
        try
        {
            pool = new SandboxPool();
        }
        catch (InvalidOperationException e)
        {
            output.WriteLine($"skipped: no sandbox ({e.Message})");
            return;
        }
        await using var _ = pool;

        // RLEF_SYNTHETIC_SCALE=n checks n times as many problems (the README quotes n = 5).
        if (double.TryParse(System.Environment.GetEnvironmentVariable("RLEF_SYNTHETIC_SCALE"), out double scale) && scale > 0)
            count = (int)(count * scale);
        // Some of each split, so that train's extra constraint (no held-out shapes) is covered too.
        var splits = SyntheticDataset.GenerateSplits(20261123, count / 2, count / 4, count / 4, Difficulty.FromName(difficulty));
        var problems = splits.All.SelectMany(s => s.Problems).ToList();
        var report = await SyntheticValidator.ValidateAsync(problems, pool, maxParallel: pool.Options.Workers);

        output.WriteLine($"{difficulty}: {report.Problems} problems, references passing all tests {report.ReferencesPassingAll}; " +
            $"{report.IncorrectSolutions} incorrect solutions, failing a hidden test {report.IncorrectFailingHidden}, " +
            $"failing a public test {report.IncorrectFailingPublic} ({report.IncorrectFailingPublicShare:P0})");
        Assert.True(report.Errors.Count == 0, string.Join("\n", report.Errors.Take(10)));
        Assert.True(report.Ok);
        Assert.True(report.IncorrectSolutions >= problems.Count);
        // Most bugs must show on the examples, or execution feedback would rarely have anything to say.
        Assert.True(report.IncorrectFailingPublicShare > 0.6, $"only {report.IncorrectFailingPublicShare:P0} of incorrect solutions fail a public test");
    }
}
