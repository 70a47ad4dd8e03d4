using Rlef.Evaluation.Statistics;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Sandbox;
using Rlef.Tests;
using Rlef.Mini;

namespace Rlef.Mini.Tests;

/// <summary>
/// `rlef mini` end to end on a budget a test affords: a tiny random model, a few generated problems, two RLEF
/// iterations, four evaluations, the report; then the same command again, which resumes and redoes nothing.
/// </summary>
public sealed class MiniRunTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-mini-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    MiniRunOptions Options(string model) => new()
    {
        Preset = new MiniPreset("test", Path.Combine(RepoPaths.Root, "configs", "mini-quick.yaml"), TestProblems: 3, EvalRollouts: 3, RandomFeedbackRollouts: 1, Concurrency: 8),
        ModelDirectory = model,
        OutputDirectory = Path.Combine(_dir, "run"),
        ReportPath = Path.Combine(_dir, "docs", "mini-report.md"),
        Command = "rlef mini --test",
        Data = new MiniData(Seed: 1, Difficulty: "easy", Train: 8, Valid: 2, Test: 3),
        ConfigOverrides =
        [
            "rollout.rollouts_per_iteration=4", "rollout.updates_per_iteration=2", "rollout.max_reply_tokens=8",
            "schedule.total_updates=4", "schedule.eval_every=2", "schedule.checkpoint_every=2", "data.valid_problems=2",
            "engine.generation_batch=8", "optimizer.learning_rate=0.001",
        ],
    };

    [Fact]
    public async Task ARunWritesEverySectionFromItsRolloutsAndAResumeRedoesNothing()
    {
        string model = TinyModelDirectory.Create(Path.Combine(_dir, "model"));
        var log = new StringWriter();
        await using var executor = new SandboxPool();
        MiniReportResult result = await new global::Rlef.Mini.MiniRun(Options(model), executor, new PlainMiniRunView(log)).RunAsync();

        string report = File.ReadAllText(result.ReportPath);
        foreach (string section in new[] { "## The paper's findings, in miniature", "## Start vs after RLEF", "## Outcomes per turn and transitions", "Code change between consecutive turns", "## Training", "## Wall time", "## Setup", "rlef mini --test" })
            Assert.Contains(section, report);
        foreach (string chart in new[] { "comparison", "turn-limit", "transitions-start", "transitions-trained", "training" })
        {
            string path = Path.Combine(_dir, "docs", $"mini-report-{chart}.svg");
            Assert.StartsWith("<svg", File.ReadAllText(path));
            Assert.Contains($"mini-report-{chart}.svg", report);
        }
        Assert.Equal(7, result.Targets.Count);   // two conditions and the paper's findings (a)-(e)
        Assert.Null(result.Targets[^1].Met); // the wall-time target is the full preset's
        foreach (string finding in new[] { "(a)", "(b)", "(c)", "(d)", "(e)" })
            Assert.Contains(result.Targets, t => t.Target.StartsWith(finding, StringComparison.Ordinal) && t.Paper.Length > 0);
        // (e) is computed from the rollouts: failing turns with a next turn, and the share whose next turn passes.
        var startRollouts = RolloutStore.Read(Path.Combine(_dir, "run", "eval", "start-real", EvaluationRun.RolloutsFile));
        int failing = startRollouts.Sum(r => r.Turns.Take(r.Turns.Count - 1).Count(t => t.PublicOutcome != TurnOutcome.Passed));
        Assert.Equal(failing, result.Evaluations["start-real"].Behaviour.AfterFailure.Transitions);

        // Paired differences with 95% CIs: start vs trained, multi- vs single-turn, true vs random feedback.
        Assert.Contains("## Paired differences", report);
        Assert.Equal(6, result.Comparisons.Count);
        MiniComparison mtSt = result.Comparisons.Single(c => c.Key == "trained-mt-st");
        Assert.Equal(result.Evaluations["trained-real"].Find("1@3", 3)!.Estimate.Value - result.Evaluations["trained-real"].Find("1@3", 1)!.Estimate.Value,
            mtSt.Paired.Difference.Value, 12);
        Assert.Equal(BootstrapMethod.Rollouts, mtSt.Paired.Method); // the paper's, with 3 rollouts per problem
        Assert.Equal(BootstrapMethod.Problems, mtSt.ByProblems.Method);
        foreach (MiniComparison c in result.Comparisons)
            Assert.Contains(c.Label, report);
        // The report says how wide the paired intervals of this test split are, from the widest row.
        double widest = result.Comparisons.SelectMany(c => new[] { c.Paired.Difference, c.ByProblems.Difference })
            .Where(e => e.IsDefined).Max(e => 100 * (e.CiHigh - e.CiLow) / 2);
        Assert.Contains(FormattableString.Invariant($"to ±{widest:0.0} points wide"), report);
        // One rollout per problem in the random-feedback evaluations: the bootstrap over rollouts cannot apply.
        Assert.Equal(BootstrapMethod.Problems, result.Comparisons.Single(c => c.Key == "trained-true-random").Paired.Method);
        Assert.Contains("bootstrap over", result.Targets[3].Measured);
        // Random feedback as the paper: donors are other test problems' incorrect_solutions.
        var randomTurns = RolloutStore.Read(Path.Combine(_dir, "run", "eval", "start-random", EvaluationRun.RolloutsFile))
            .SelectMany(r => r.Turns.Select(t => (r.TaskId, t))).Where(x => x.t.Feedback is not null && x.t.PublicOutcome != TurnOutcome.InvalidCode).ToList();
        Assert.All(randomTurns, x => Assert.NotEqual(x.TaskId, x.t.FeedbackFrom));
        Assert.Contains("the paper's donors", report);

        // The starting policy's validation (iteration 0), then two iterations of two updates, each followed by a validation.
        Assert.Equal([0L, 1L, 2L], result.Curve.Select(p => p.Iteration));
        Assert.NotNull(result.Curve[0].ValidSolveRate);
        Assert.NotNull(result.Curve[^1].ValidSolveRate);
        Assert.Contains("| 0 (start) | 0 | | | ", File.ReadAllText(result.ReportPath));

        // The figures are the rollouts': recompute the start policy's turn-1 outcomes from rollouts.jsonl.
        var rollouts = RolloutStore.Read(Path.Combine(_dir, "run", "eval", "start-real", EvaluationRun.RolloutsFile));
        Assert.Equal(9, rollouts.Count); // 3 problems × 3 rollouts
        double invalid = rollouts.Count(r => r.Turns[0].PublicOutcome == TurnOutcome.InvalidCode) / 9.0;
        Assert.Contains(FormattableString.Invariant($"| 1 | start | 9 | "), report);
        Assert.Equal(invalid, result.Evaluations["start-real"].Behaviour.OutcomesByTurn[0].Share(TurnOutcome.InvalidCode), 9);
        Assert.Equal(rollouts.Count(r => r.PassedAll) / 9.0, result.Evaluations["start-real"].SolveRate.Value, 9);
        int reachedTurn2 = rollouts.Count(r => r.Turns.Count >= 2);
        Assert.Contains(FormattableString.Invariant($"| 2 | start | {reachedTurn2} | "), report);

        // The trained policy is the exported best-on-validation checkpoint, evaluated on the same problems.
        Assert.True(File.Exists(Path.Combine(_dir, "run", "trained", "model.safetensors")));
        Assert.Equal(9, result.Evaluations["trained-real"].RolloutCount);
        Assert.Equal(3, result.Evaluations["trained-random"].RolloutCount);

        // Rerun: every phase is complete, so nothing is generated, trained or rolled out again.
        var again = new StringWriter();
        MiniReportResult second = await new global::Rlef.Mini.MiniRun(Options(model), executor, new PlainMiniRunView(again)).RunAsync();
        Assert.Contains("data: " + Path.Combine(_dir, "run", "data") + " (done)", again.ToString());
        Assert.Contains("(done, 4 updates)", again.ToString());
        Assert.Contains("0 rollouts this session", again.ToString());
        Assert.Equal(result.Evaluations["trained-real"].SolveRate, second.Evaluations["trained-real"].SolveRate);
        // The wall time of the first session is kept (phases.json is read back, not reset).
        Assert.True(second.WallSeconds >= result.WallSeconds && result.WallSeconds > 0);
        Assert.Equal(9, RolloutStore.Read(Path.Combine(_dir, "run", "eval", "trained-real", EvaluationRun.RolloutsFile)).Count);

        // Another budget in the same directory is refused rather than mixed in.
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            new global::Rlef.Mini.MiniRun(Options(model) with { Data = new MiniData(2, "easy", 8, 2, 3) }, executor, new PlainMiniRunView(again)).RunAsync());
    }
}
