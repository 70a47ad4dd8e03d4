using Rlef.Evaluation.Statistics;
using Rlef.Evaluation.Behaviour;
using static Rlef.Environment.Rollouts.TurnOutcome;

namespace Rlef.Evaluation.Tests;

/// <summary>Builds rollouts from outcome sequences; every turn's code differs unless given.</summary>
internal static class Rollouts
{
    public static RolloutSummary Of(string problem, bool passesAll, params TurnOutcome[] outcomes) =>
        new(problem, outcomes.Select((o, t) => new TurnSummary(o, o == InvalidCode ? "" : $"print({t})  # {problem}")).ToList(), passesAll);

    public static RolloutSummary WithCode(string problem, bool passesAll, params (TurnOutcome Outcome, string Code)[] turns) =>
        new(problem, turns.Select(t => new TurnSummary(t.Outcome, t.Code)).ToList(), passesAll);

    /// <summary>
    /// Two problems, four rollouts each, turn limit 3; the metrics below are worked out by hand in the tests.
    /// p1: [Passed]✓, [Wrong, Passed]✓, [Exception, Wrong, Wrong]✗, [Passed]✗ (public tests only).
    /// p2: [Wrong×3]✗ (same code every turn), [Invalid, Exception, Passed]✓, [Timeout, Wrong, Wrong]✗, [Wrong×3]✗.
    /// </summary>
    public static List<RolloutSummary> HandWorked() =>
    [
        Of("p1", true, Passed),
        Of("p1", true, WrongOutput, Passed),
        Of("p1", false, TurnOutcome.Exception, WrongOutput, WrongOutput),
        Of("p1", false, Passed),
        WithCode("p2", false, (WrongOutput, "print(1)"), (WrongOutput, "print(1)"), (WrongOutput, "print(1)")),
        Of("p2", true, InvalidCode, TurnOutcome.Exception, Passed),
        Of("p2", false, TurnOutcome.Timeout, WrongOutput, WrongOutput),
        Of("p2", false, WrongOutput, WrongOutput, WrongOutput),
    ];

    public static readonly EvaluationOptions HandWorkedOptions = new()
    {
        TurnLimit = 3, PassAtK = [1, 2, 10], NAtK = [new(1, 3), new(10, 100)], Dataset = "unit", Policy = "replay:test", FeedbackMode = "execution",
    };

    /// <summary>A larger random but seeded set: problems of varied difficulty, policies that sometimes recover.</summary>
    public static List<RolloutSummary> Random(int problems, int perProblem, int turnLimit, int seed)
    {
        var random = new Random(seed);
        TurnOutcome[] failures = [WrongOutput, TurnOutcome.Exception, TurnOutcome.Timeout, OutOfMemory, InvalidCode];
        var rollouts = new List<RolloutSummary>();
        for (int p = 0; p < problems; p++)
        {
            double skill = random.NextDouble() * random.NextDouble();
            for (int r = 0; r < perProblem; r++)
            {
                var turns = new List<TurnSummary>();
                bool passedPublic = false;
                string code = $"def solve():\n    return {p}\nprint(solve())";
                for (int t = 0; t < turnLimit && !passedPublic; t++)
                {
                    passedPublic = random.NextDouble() < skill;
                    TurnOutcome outcome = passedPublic ? Passed : failures[random.Next(failures.Length)];
                    if (random.NextDouble() < 0.5)
                        code += $"\n# revision {t}: {random.Next(1000)}";
                    turns.Add(new TurnSummary(outcome, outcome == InvalidCode ? "" : code));
                }
                rollouts.Add(new RolloutSummary($"problem/{p}", turns, passedPublic && random.NextDouble() < 0.8, r));
            }
        }
        return rollouts;
    }
}

public class EvaluationReportTests
{
    private static EvaluationReport HandWorked() => EvaluationReport.Compute(Rollouts.HandWorked(), Rollouts.HandWorkedOptions);

    [Fact]
    public void Solve_rates_match_hand_computed_values()
    {
        EvaluationReport report = HandWorked();
        Assert.Equal(2, report.ProblemCount);
        Assert.Equal(8, report.RolloutCount);
        Assert.Equal(3.0 / 8, report.SolveRate.Value, 12);
        // Cut at 1 turn: p1 1/4, p2 0; at 2: p1 2/4, p2 0; at 3: p1 2/4, p2 1/4.
        Assert.Equal([0.125, 0.25, 0.375], report.SolveRateByTurnLimit.Select(s => Math.Round(s.Estimate.Value, 12)));
        Assert.Equal([1, 2, 3], report.SolveRateByTurnLimit.Select(s => s.TurnLimit));
    }

    [Fact]
    public void Pass_at_k_and_n_at_k_match_hand_computed_values()
    {
        EvaluationReport report = HandWorked();
        Assert.Equal(0.125, report.Find("pass@1", 1)!.Estimate.Value, 12);
        Assert.Equal(0.375, report.Find("pass@1", 3)!.Estimate.Value, 12);
        // pass@2: p1 1 − C(2,2)/C(4,2) = 5/6, p2 1 − C(3,2)/C(4,2) = 1/2.
        Assert.Equal(2.0 / 3, report.Find("pass@2", 3)!.Estimate.Value, 12);
        // 1@3 multi-turn draws one 3-turn rollout: the multi-turn solve rate.
        Assert.Equal(0.375, report.Find("1@3", 3)!.Estimate.Value, 12);
        // 1@3 single-turn draws three first replies and submits one that passes the public tests. p1's first turns:
        // r1 correct, r4 public only, r2 and r3 fail; the four draws of three give 0, 1/2, 1/2, 1 → 1/2. p2: none pass.
        Assert.Equal(0.25, report.Find("1@3", 1)!.Estimate.Value, 12);
    }

    [Fact]
    public void Metrics_needing_more_rollouts_are_skipped_with_a_reason()
    {
        EvaluationReport report = HandWorked();
        Assert.Null(report.Find("10@100", 3));
        Assert.Null(report.Find("pass@10", 1));
        SkippedMetric skipped = Assert.Single(report.Skipped, s => s.Name == "10@100" && s.TurnLimit == 3);
        Assert.Contains("33 rollouts", skipped.Reason);
        Assert.Contains(report.Skipped, s => s.Name == "pass@10");
        Assert.Equal(4, report.Skipped.Count); // pass@10 and 10@100, at each of the two turn limits
    }

    [Fact]
    public void Every_interval_contains_its_estimate()
    {
        EvaluationReport report = EvaluationReport.Compute(Rollouts.Random(40, 12, 3, seed: 5),
            new EvaluationOptions { PassAtK = [1, 10], NAtK = [new(1, 3), new(2, 12)], Bootstrap = BootstrapMethod.Problems });
        Assert.NotEmpty(report.Metrics);
        foreach (MetricResult m in report.Metrics)
            Assert.True(m.Estimate.CiLow <= m.Estimate.Value && m.Estimate.Value <= m.Estimate.CiHigh, $"{m.Name} at {m.TurnLimit}: {m.Estimate}");
        Assert.Empty(report.Warnings);
        Assert.InRange(report.SolveRate.Value, report.SolveRate.CiLow, report.SolveRate.CiHigh);
        // Multi-turn is never worse than its own first turn, and the solve rate never drops with a higher turn limit.
        IReadOnlyList<TurnLimitSolveRate> byLimit = report.SolveRateByTurnLimit;
        for (int i = 1; i < byLimit.Count; i++)
            Assert.True(byLimit[i].Estimate.Value >= byLimit[i - 1].Estimate.Value);
    }

    [Fact]
    public void Rollout_bootstrap_warns_where_repeated_rollouts_pull_the_interval_below_the_estimate()
    {
        // pass@10 of 12 rollouts: a redraw of 12 holds ~7.6 distinct rollouts, so pass@10 on redraws is lower than on the
        // data. pass@1 and 1@3 are means of single rollouts and are not affected.
        EvaluationReport report = EvaluationReport.Compute(Rollouts.Random(40, 12, 3, seed: 5),
            new EvaluationOptions { PassAtK = [1, 10], NAtK = [new(1, 3)] });
        Assert.Equal(BootstrapMethod.Rollouts, report.BootstrapMethod);
        foreach (string linear in (string[])["pass@1", "1@3"])
            foreach (int limit in (int[])[1, 3])
            {
                Estimate e = report.Find(linear, limit)!.Estimate;
                Assert.InRange(e.Value, e.CiLow, e.CiHigh);
            }
        Estimate tenOfTwelve = report.Find("pass@10", 1)!.Estimate;
        Assert.True(tenOfTwelve.Value > tenOfTwelve.CiHigh, $"{tenOfTwelve}");
        Assert.Contains(report.Warnings, w => w.StartsWith("pass@10 (single-turn): the estimate lies outside", StringComparison.Ordinal));
    }

    [Fact]
    public void A_metric_read_at_another_temperature_than_the_papers_carries_a_warning()
    {
        List<RolloutSummary> rollouts = Rollouts.Random(5, 40, 3, seed: 2);
        var options = new EvaluationOptions { PassAtK = [1], NAtK = [new(1, 3), new(10, 100)] };
        Assert.Contains(EvaluationReport.Compute(rollouts, options with { Temperature = 0.2 }).Warnings, w => w.StartsWith("10@100 was sampled at temperature 0.2; the paper reports 10@100 at temperature 1", StringComparison.Ordinal));
        Assert.DoesNotContain(EvaluationReport.Compute(rollouts, options with { Temperature = 0.2 }).Warnings, w => w.StartsWith("1@3", StringComparison.Ordinal));
        Assert.Contains(EvaluationReport.Compute(rollouts, options with { Temperature = 1.0 }).Warnings, w => w.StartsWith("1@3 was sampled at temperature 1", StringComparison.Ordinal));
        Assert.DoesNotContain(EvaluationReport.Compute(rollouts, options).Warnings, w => w.Contains("temperature", StringComparison.Ordinal));
    }

    [Fact]
    public void Metrics_are_reported_at_the_requested_turn_limits()
    {
        EvaluationReport report = EvaluationReport.Compute(Rollouts.Random(10, 6, 10, seed: 3),
            new EvaluationOptions { TurnLimit = 10, TurnLimits = [1, 3, 5, 10], PassAtK = [1], NAtK = [new(1, 3)] });
        Assert.Equal([1, 3, 5, 10], report.ReportedTurnLimits);
        Assert.NotNull(report.Find("pass@1", 5));
        Assert.Contains(report.Skipped, s => s.Name == "1@3" && s.TurnLimit == 5); // a budget of 3 buys no 5-turn rollout
        Assert.Throws<ArgumentException>(() => EvaluationReport.Compute(Rollouts.Random(2, 2, 3, 1), new EvaluationOptions { TurnLimits = [1, 4] }));
    }

    [Fact]
    public void Ten_at_hundred_lies_between_one_at_three_and_pass_at_33()
    {
        // At paper scale (200 rollouts per problem) 10@100 draws 33 three-turn rollouts: it can do no better than
        // "any of the 33 is correct" (pass@33) and no worse than submitting a single rollout (1@3).
        EvaluationReport report = EvaluationReport.Compute(Rollouts.Random(12, 200, 3, seed: 4),
            new EvaluationOptions { PassAtK = [33], BootstrapResamples = 50 });
        double tenAtHundred = report.Find("10@100", 3)!.Estimate.Value;
        Assert.InRange(tenAtHundred, report.Find("1@3", 3)!.Estimate.Value, report.Find("pass@33", 3)!.Estimate.Value);
        Assert.True(tenAtHundred > report.Find("1@3", 3)!.Estimate.Value + 0.05, "ten submissions from 33 rollouts beat one rollout");
        Assert.Empty(report.Skipped);
    }

    [Fact]
    public void Same_seed_gives_the_same_report()
    {
        List<RolloutSummary> rollouts = Rollouts.Random(25, 8, 3, seed: 9);
        string a = ReportWriter.SummaryJson(EvaluationReport.Compute(rollouts, new EvaluationOptions { Seed = 11 }));
        string b = ReportWriter.SummaryJson(EvaluationReport.Compute(rollouts, new EvaluationOptions { Seed = 11 }));
        string c = ReportWriter.SummaryJson(EvaluationReport.Compute(rollouts, new EvaluationOptions { Seed = 12 }));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);

        // Rollouts arrive in the order they finish, which varies between runs: the same rollouts in another order
        // (problems interleaved differently) give the same intervals.
        var shuffled = rollouts.OrderBy(r => r.ProblemId.GetHashCode(StringComparison.Ordinal) ^ r.Turns.Count).ToList();
        Assert.NotEqual(rollouts.Select(r => r.ProblemId), shuffled.Select(r => r.ProblemId));
        Assert.Equal(a, ReportWriter.SummaryJson(EvaluationReport.Compute(shuffled, new EvaluationOptions { Seed = 11 })));
    }

    [Fact]
    public void Behaviour_matches_hand_counts()
    {
        BehaviourAnalysis b = HandWorked().Behaviour;
        Assert.Equal([8, 6, 5], b.OutcomesByTurn.Select(d => d.Rollouts));
        OutcomeDistribution first = b.OutcomesByTurn[0];
        Assert.Equal(2, first.Counts[Passed]);
        Assert.Equal(3, first.Counts[WrongOutput]);
        Assert.Equal(1, first.Counts[InvalidCode]);
        Assert.Equal(4, b.OutcomesByTurn[1].Counts[WrongOutput]);

        int Moves(int turn, TurnOutcome from, TurnOutcome to) =>
            b.Transitions.SingleOrDefault(m => m.FromTurn == turn && m.From == from && m.To == to)?.Count ?? 0;
        Assert.Equal(1, Moves(1, WrongOutput, Passed));
        Assert.Equal(2, Moves(1, WrongOutput, WrongOutput));
        Assert.Equal(1, Moves(1, InvalidCode, TurnOutcome.Exception));
        Assert.Equal(1, Moves(2, TurnOutcome.Exception, Passed));
        Assert.Equal(6, b.Transitions.Where(m => m.FromTurn == 1).Sum(m => m.Count)); // every rollout reaching turn 2

        RecoveryRate Recovery(int? turn, TurnOutcome from) => b.Recovery.Single(r => r.Turn == turn && r.From == from);
        Assert.Equal(1.0 / 3, Recovery(1, WrongOutput).Rate.Value, 12);
        Assert.Equal(3, Recovery(1, WrongOutput).Rollouts);
        Assert.Equal(1.0, Recovery(1, InvalidCode).Rate.Value, 12);
        Assert.Equal(0.0, Recovery(2, WrongOutput).Rate.Value, 12);
        Assert.Equal(1.0 / 7, Recovery(null, WrongOutput).Rate.Value, 12);
        Assert.DoesNotContain(b.Recovery, r => r.Turn == 3); // the last turn has nothing to recover into
    }

    [Fact]
    public void After_a_failure_the_repair_rate_and_code_change_pool_every_failing_turn_with_a_next_turn()
    {
        AfterFailure after = HandWorked().Behaviour.AfterFailure;
        // Failing turns followed by another: p1 1 (repaired) + 2; p2 2 + 2 (one repaired) + 2 + 2 = 11, 2 repaired.
        Assert.Equal(11, after.Transitions);
        Assert.Equal(2.0 / 11, after.RepairRate.Value, 12);
        Assert.True(after.RepairRate.CiLow <= after.RepairRate.Value && after.RepairRate.Value <= after.RepairRate.CiHigh);
        // The invalid first turn of p2's second rollout has no code, so its transition has no code change.
        Assert.Equal(10, after.CodeTransitions);
        Assert.InRange(after.CodeChange.Value, 0.0, 1.0);
    }

    [Fact]
    public void Code_change_is_zero_for_repeated_code_and_skips_turns_without_code()
    {
        BehaviourAnalysis b = HandWorked().Behaviour;
        // Wrong → wrong transitions: p2's repeated print(1) (two, change 0) and the generated ones (print(t), which differ).
        CodeChange wrongToWrong = b.CodeChanges.Single(c => c.From == WrongOutput && c.To == WrongOutput);
        Assert.Equal(6, wrongToWrong.Transitions);
        Assert.InRange(wrongToWrong.Mean.Value, 0.0, 1.0);
        // The invalid first turn of p2's second rollout has no code: no code change out of invalid code.
        Assert.DoesNotContain(b.CodeChanges, c => c.From == InvalidCode);
        // "any" rows pool every destination.
        CodeChange anyFromWrong = b.CodeChanges.Single(c => c.From == WrongOutput && c.To == null);
        Assert.Equal(b.Transitions.Where(m => m.From == WrongOutput).Sum(m => m.Count), anyFromWrong.Transitions);

        EvaluationReport same = EvaluationReport.Compute(
            [Rollouts.WithCode("q", false, (WrongOutput, "x = 1\nprint(x)"), (WrongOutput, "x = 1\nprint(x)"))],
            new EvaluationOptions { TurnLimit = 2 });
        Assert.Equal(0.0, same.Behaviour.CodeChanges.Single(c => c.To == null).Mean.Value, 12);
    }

    [Fact]
    public void Bad_rollouts_are_rejected_with_the_problem_named()
    {
        var tooLong = new List<RolloutSummary> { Rollouts.Of("p9", false, WrongOutput, WrongOutput, WrongOutput, WrongOutput) };
        var error = Assert.Throws<ArgumentException>(() => EvaluationReport.Compute(tooLong, new EvaluationOptions()));
        Assert.Contains("p9", error.Message);
        Assert.Contains("4 turns", error.Message);

        var empty = new List<RolloutSummary> { new("p7", [], false) };
        Assert.Contains("p7", Assert.Throws<ArgumentException>(() => EvaluationReport.Compute(empty, new EvaluationOptions())).Message);
        Assert.Throws<ArgumentException>(() => EvaluationReport.Compute([], new EvaluationOptions()));
        Assert.Throws<ArgumentException>(() => EvaluationReport.Compute(Rollouts.HandWorked(), new EvaluationOptions { TurnLimit = 0 }));
        Assert.Throws<ArgumentException>(() => EvaluationReport.Compute(Rollouts.HandWorked(), new EvaluationOptions { NAtK = [new(5, 3)] }));
    }

    [Fact]
    public void N_at_k_parses_and_prints()
    {
        Assert.Equal(new NAtK(10, 100), NAtK.Parse("10@100"));
        Assert.Equal("1@3", new NAtK(1, 3).ToString());
        Assert.Equal(33, new NAtK(10, 100).RolloutsDrawn(3));
        Assert.Throws<FormatException>(() => NAtK.Parse("10of100"));
        Assert.Throws<ArgumentException>(() => NAtK.Parse("4@3"));
    }

    [Fact]
    public void Terminal_table_lists_every_metric()
    {
        EvaluationReport report = HandWorked();
        IReadOnlyList<SummaryRow> rows = report.ToTable();
        Assert.Equal(1 + 3 + report.Metrics.Count, rows.Count);
        string text = report.ToText();
        Assert.Contains("1@3", text);
        Assert.Contains("37.5%", text);
        Assert.Contains("skipped", text);
        Assert.Contains("unit", text);
    }
}
