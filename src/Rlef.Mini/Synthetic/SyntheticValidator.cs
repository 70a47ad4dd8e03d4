using Rlef.Sandbox;

namespace Rlef.Mini.Synthetic;

/// <summary>What running generated problems' solutions with real Python showed.</summary>
public sealed record ValidationReport(
    int Problems,
    int ReferencesPassingAll,
    int IncorrectSolutions,
    int IncorrectFailingHidden,
    int IncorrectFailingPublic,
    IReadOnlyList<string> Errors)
{
    public bool Ok => Errors.Count == 0 && ReferencesPassingAll == Problems && IncorrectFailingHidden == IncorrectSolutions;
    public double IncorrectFailingPublicShare => IncorrectSolutions == 0 ? 0 : (double)IncorrectFailingPublic / IncorrectSolutions;
}

/// <summary>
/// Cross-checks generated problems by executing their Python: every reference solution must pass every test (the
/// expected outputs come from the C# evaluation of the chain, so this checks that the two agree), and every incorrect
/// solution must fail at least one hidden test. Also counts how many incorrect solutions a public test already
/// exposes, i.e. how often execution feedback on the examples can point at the bug.
/// </summary>
public static class SyntheticValidator
{
    public static async Task<ValidationReport> ValidateAsync(IReadOnlyList<SyntheticProblem> problems, ICodeExecutor executor,
        int maxParallel = 2, CancellationToken cancellationToken = default)
    {
        int referencesOk = 0, incorrect = 0, failingHidden = 0, failingPublic = 0;
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(problems, new ParallelOptions { MaxDegreeOfParallelism = maxParallel, CancellationToken = cancellationToken },
            async (p, ct) =>
            {
                var tests = p.PublicTests.Concat(p.HiddenTests).Select(t => TestCase.Stdio(t.Input, t.Output)).ToList();
                var limits = new ExecutionLimits
                {
                    CpuTimeSeconds = p.TimeLimit.TotalSeconds, WallTimeSeconds = p.TimeLimit.TotalSeconds,
                    MemoryMb = (int)(p.MemoryLimitBytes >> 20),
                };
                ExecutionRequest Request(string code) => new() { Code = code, Tests = tests, Limits = limits };

                var reference = await executor.RunAsync(Request(p.Solution), ct);
                if (reference.AllPassed)
                    Interlocked.Increment(ref referencesOk);
                else
                {
                    int i = reference.Results.ToList().FindIndex(r => r.Verdict != Verdict.Passed);
                    var r = i < 0 ? null : reference.Results[i];
                    errors.Add($"{p.Name}: reference solution fails test {i} ({r?.Verdict.ToName()}): expected {Show(tests[Math.Max(i, 0)].ExpectedOutput)}, " +
                        $"got {Show(r?.Stdout)} {r?.Error}");
                }

                foreach (var bad in p.IncorrectSolutions)
                {
                    Interlocked.Increment(ref incorrect);
                    var report = await executor.RunAsync(Request(bad.Code), ct);
                    var verdicts = report.Results.Select(r => r.Verdict).ToList();
                    if (verdicts.Take(p.PublicTests.Count).Any(v => v != Verdict.Passed))
                        Interlocked.Increment(ref failingPublic);
                    if (verdicts.Skip(p.PublicTests.Count).Any(v => v != Verdict.Passed))
                        Interlocked.Increment(ref failingHidden);
                    else
                        errors.Add($"{p.Name}: incorrect solution ({bad.Kind}: {bad.Change}) passes every hidden test");
                }
            });
        return new ValidationReport(problems.Count, referencesOk, incorrect, failingHidden, failingPublic, errors.Order(StringComparer.Ordinal).ToList());
    }

    private static string Show(string? s) => s == null ? "(nothing)" : $"`{s.Replace("\n", "\\n")}`";
}
