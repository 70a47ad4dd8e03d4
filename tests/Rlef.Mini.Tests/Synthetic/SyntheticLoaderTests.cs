using Rlef.Environment.Problems;
using Rlef.Mini.Synthetic;

namespace Rlef.Mini.Tests.Synthetic;

/// <summary>Generated problems are read back by the CodeContests loader exactly as `rlef eval` and `rlef train` see them.</summary>
public sealed class SyntheticLoaderTests
{
    [Fact]
    public void CodeContests_loader_reads_generated_splits_with_tests_limits_and_reference_solution()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlef-synthetic-" + Guid.NewGuid().ToString("N"));
        try
        {
            var splits = SyntheticDataset.GenerateSplits(3, 12, 3, 5, Difficulty.Medium);
            SyntheticDataset.WriteSplits(splits, dir);
            var loaded = CodeContestsLoader.Load(Path.Combine(dir, "test.jsonl"));

            Assert.Equal(splits.Test.Count, loaded.Count);
            foreach (var (generated, problem) in splits.Test.Zip(loaded))
            {
                Assert.Equal(generated.Name, problem.Id);
                Assert.Equal(generated.Description, problem.Statement);
                Assert.Equal(generated.PublicTests.Select(t => (t.Input, t.Output)),
                    problem.PublicTests.Select(t => (t.Case.Input, t.Case.ExpectedOutput!)));
                Assert.Equal(generated.HiddenTests.Select(t => (t.Input, t.Output)),
                    problem.PrivateTests.Select(t => (t.Case.Input, t.Case.ExpectedOutput!)));
                Assert.Equal(generated.Solution, problem.CanonicalSolution);
                Assert.Equal(generated.TimeLimit.TotalSeconds, problem.Limits.WallTimeSeconds, 6);
            }
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
