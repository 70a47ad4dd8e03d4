using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation.Tests;

public class BootstrapTests
{
    private static readonly double[] SolvedShares =
        [0, 0, 0.1, 0.2, 0.2, 0.5, 0.9, 1, 0, 0.3, 0.4, 0.1, 0, 0.6, 0.7, 0.05, 0.15, 0.25, 0, 1];

    /// <summary>One value per problem, one rollout each: a per-problem mean as the problem bootstrap sees it.</summary>
    private static Statistic PerProblem(IReadOnlyList<double> values) =>
        Statistic.MeanOverProblems(values.Select(v => (IReadOnlyList<double[]>)[[v]]).ToList(), (n, sums) => sums[0] / n);

    private static Bootstrap Problems(int count, int resamples, int seed) =>
        new(BootstrapMethod.Problems, Enumerable.Repeat(1, count).ToArray(), resamples, seed);

    [Fact]
    public void Problem_bootstrap_interval_contains_the_point_estimate_and_brackets_it_sensibly()
    {
        Estimate e = Problems(SolvedShares.Length, 200, 1).Estimate(PerProblem(SolvedShares));
        Assert.Equal(SolvedShares.Average(), e.Value, 12);
        Assert.InRange(e.Value, e.CiLow, e.CiHigh);
        Assert.True(e.CiHigh - e.CiLow > 0.05, "twenty problems this spread cannot pin the mean to within 5 points");
        Assert.True(e.CiHigh - e.CiLow < 0.5);
    }

    [Fact]
    public void Same_seed_same_interval_other_seed_other_interval()
    {
        Estimate a = Problems(SolvedShares.Length, 200, 42).Estimate(PerProblem(SolvedShares));
        Estimate b = Problems(SolvedShares.Length, 200, 42).Estimate(PerProblem(SolvedShares));
        Estimate c = Problems(SolvedShares.Length, 200, 43).Estimate(PerProblem(SolvedShares));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Constant_results_have_a_zero_width_interval()
    {
        Estimate e = Problems(5, 200, 0).Estimate(PerProblem([0.25, 0.25, 0.25, 0.25, 0.25]));
        Assert.Equal(new Estimate(0.25, 0.25, 0.25), e);
    }

    [Fact]
    public void Pooled_ratio_pools_rollouts_and_skips_resamples_without_any()
    {
        // Problem 0 has 4 rollouts in the class, 3 recovered; the others have none.
        double[][] numerators = [[1, 1, 1, 0], [0], [0], [0]], denominators = [[1, 1, 1, 1], [0], [0], [0]];
        var bootstrap = new Bootstrap(BootstrapMethod.Problems, [4, 1, 1, 1], 200, 3);
        Estimate e = bootstrap.Estimate(Statistic.PooledRatio(numerators, denominators));
        Assert.Equal(0.75, e.Value, 12);
        Assert.Equal(0.75, e.CiLow, 12); // every resample that has the class at all gives 3/4 (or a multiple of it)
        Assert.Equal(0.75, e.CiHigh, 12);
        double[][] none = [[0, 0, 0, 0], [0], [0], [0]];
        Assert.True(double.IsNaN(bootstrap.Estimate(Statistic.PooledRatio(none, none)).Value));
    }

    [Fact]
    public void Percentile_interpolates_between_order_statistics()
    {
        double[] sorted = [1, 2, 3, 4, 5];
        Assert.Equal(1.1, Bootstrap.Percentile(sorted, 0.025), 12); // position 0.1
        Assert.Equal(4.9, Bootstrap.Percentile(sorted, 0.975), 12); // position 3.9
        Assert.Equal(3.0, Bootstrap.Percentile(sorted, 0.5), 12);
    }

    /// <summary>
    /// The paper's bootstrap (App. B.1) worked by hand. Problem A's three rollouts: correct, wrong, wrong; problem B's:
    /// correct, correct, wrong. Solve rate = mean over problems of the share correct = (1/3 + 2/3) / 2 = 0.5. Five
    /// resamples, each redrawing every problem's 3 results with replacement (given as multiplicities):
    ///   A [3,0,0] → 1,   B [3,0,0] → 1    : 1.0
    ///   A [0,3,0] → 0,   B [0,0,3] → 0    : 0.0
    ///   A [1,2,0] → 1/3, B [1,1,1] → 2/3  : 0.5
    ///   A [2,1,0] → 2/3, B [0,1,2] → 1/3  : 0.5
    ///   A [0,1,2] → 0,   B [1,2,0] → 1    : 0.5
    /// Sorted: 0, .5, .5, .5, 1. The 2.5th percentile sits at position 0.025·4 = 0.1: 0 + 0.1·0.5 = 0.05; the 97.5th at
    /// 3.9: 0.5 + 0.9·0.5 = 0.95. pass@2 on the third resample: A has 1 correct of 3 → 1 − C(2,2)/C(3,2) = 2/3; B has
    /// 2 of 3 → 1; mean 5/6.
    /// </summary>
    [Fact]
    public void Rollout_bootstrap_matches_a_hand_computed_case()
    {
        List<RolloutSummary> rollouts =
        [
            Rollout("A", 0, true), Rollout("A", 1, false), Rollout("A", 2, false),
            Rollout("B", 0, true), Rollout("B", 1, true), Rollout("B", 2, false),
        ];
        IReadOnlyList<IReadOnlyList<RolloutSummary>> problems = EvaluationReport.GroupByProblem(rollouts, 3);
        int[] everyProblemOnce = [1, 1];
        Draw[] draws =
        [
            new(everyProblemOnce, [[3, 0, 0], [3, 0, 0]]),
            new(everyProblemOnce, [[0, 3, 0], [0, 0, 3]]),
            new(everyProblemOnce, [[1, 2, 0], [1, 1, 1]]),
            new(everyProblemOnce, [[2, 1, 0], [0, 1, 2]]),
            new(everyProblemOnce, [[0, 1, 2], [1, 2, 0]]),
        ];
        var bootstrap = new Bootstrap(BootstrapMethod.Rollouts, [3, 3], draws);

        Estimate solveRate = bootstrap.Estimate(MetricStatistics.SolveRateAt(problems, 3));
        Assert.Equal(0.5, solveRate.Value, 12);
        Assert.Equal(0.05, solveRate.CiLow, 12);
        Assert.Equal(0.95, solveRate.CiHigh, 12);
        Assert.Equal(5.0 / 6, MetricStatistics.PassAt(problems, 2, 3).Evaluate(draws[2]), 12);
    }

    [Fact]
    public void Rollout_bootstrap_draws_each_problems_results_with_replacement()
    {
        // One problem, two rollouts, one correct: a redraw of 2 from 2 holds 0, 1 or 2 correct with probability 1/4, 1/2,
        // 1/4, so the resampled rate is 0, 0.5 or 1 and the 95% interval spans [0, 1]. Resampling problems cannot see
        // this variation: its interval has zero width.
        var rollouts = new List<RolloutSummary> { Rollout("p", 0, true), Rollout("p", 1, false) };
        IReadOnlyList<IReadOnlyList<RolloutSummary>> problems = EvaluationReport.GroupByProblem(rollouts, 3);
        var byRollouts = new Bootstrap(BootstrapMethod.Rollouts, [2], 2000, 7);
        var counts = byRollouts.Draws.GroupBy(d => d.RolloutCounts[0][0]).ToDictionary(g => g.Key, g => g.Count());
        Assert.InRange(counts[1] / 2000.0, 0.45, 0.55);
        Assert.InRange(counts[0] / 2000.0, 0.20, 0.30);
        Assert.All(byRollouts.Draws, d => Assert.Equal(2, d.RolloutCounts[0].Sum()));

        Assert.Equal(new Estimate(0.5, 0, 1), byRollouts.Estimate(MetricStatistics.SolveRateAt(problems, 3)));
        Assert.Equal(new Estimate(0.5, 0.5, 0.5), new Bootstrap(BootstrapMethod.Problems, [2], 2000, 7).Estimate(MetricStatistics.SolveRateAt(problems, 3)));
    }

    [Fact]
    public void Rollout_bootstrap_falls_back_to_problems_when_a_problem_has_one_rollout()
    {
        Assert.Equal((BootstrapMethod.Rollouts, null), Bootstrap.Resolve(BootstrapMethod.Rollouts, [2, 3]));
        (BootstrapMethod method, string? note) = Bootstrap.Resolve(BootstrapMethod.Rollouts, [2, 1]);
        Assert.Equal(BootstrapMethod.Problems, method);
        Assert.Contains("single rollout", note);
        Assert.Equal((BootstrapMethod.Problems, null), Bootstrap.Resolve(BootstrapMethod.Problems, [1]));
    }

    [Fact]
    public void Paired_difference_of_identical_settings_is_exactly_zero_and_an_unpaired_one_is_not()
    {
        List<RolloutSummary> a = Rollouts.Random(problems: 40, perProblem: 5, turnLimit: 3, seed: 5);
        foreach (BootstrapMethod method in Enum.GetValues<BootstrapMethod>())
        {
            var options = new EvaluationOptions { Bootstrap = method };
            PairedDifference same = PairedComparison.Compute("1@3", new("A", a, 3), new("A again", a, 3), options);
            Assert.Equal(new Estimate(0, 0, 0), same.Difference);
            Assert.False(same.ExcludesZero);
            Assert.True(same.FirstValue.CiHigh - same.FirstValue.CiLow > 0.02, "each side alone has a wide interval");
            Assert.Equal(method, same.Method);
        }
    }

    [Fact]
    public void Paired_difference_detects_a_consistent_gain_that_overlapping_intervals_hide()
    {
        // The second setting solves, on every problem, the rollouts the first solves plus one more of five: a gain of
        // 20 points in every problem. The problems' difficulty varies widely, so each setting's own interval is wide
        // and the two overlap; paired, every resample shows the gain.
        var first = new List<RolloutSummary>();
        var second = new List<RolloutSummary>();
        var random = new Random(11);
        for (int p = 0; p < 30; p++)
        {
            int solved = random.Next(0, 5);
            for (int r = 0; r < 5; r++)
            {
                first.Add(Rollout($"p{p}", r, r < solved));
                second.Add(Rollout($"p{p}", r, r <= solved));
            }
        }
        var options = new EvaluationOptions { Bootstrap = BootstrapMethod.Problems };
        PairedDifference d = PairedComparison.Compute("pass@1", new("second", second, 3), new("first", first, 3), options);
        Assert.Equal(0.2, d.Difference.Value, 12);
        Assert.Equal(0.2, d.Difference.CiLow, 12);
        Assert.True(d.ExcludesZero);
        Assert.True(d.FirstValue.CiLow < d.SecondValue.CiHigh, "the unpaired intervals overlap");
        Assert.Contains("excludes 0", d.ToText());
    }

    [Fact]
    public void Paired_rollout_bootstrap_says_when_the_metric_draws_most_of_the_rollouts()
    {
        // Single-turn 1@3 with 3 rollouts per problem draws all 3: redraws that repeat rollouts pull it down.
        List<RolloutSummary> a = Rollouts.Random(problems: 20, perProblem: 3, turnLimit: 3, seed: 4);
        PairedDifference st = PairedComparison.Compute("1@3", new("MT", a, 3), new("ST", a, 1), new EvaluationOptions());
        Assert.Equal(BootstrapMethod.Rollouts, st.Method);
        Assert.Contains("draws 3 of as few as 3 rollouts", st.Note);
        Assert.Null(PairedComparison.Compute("1@3", new("MT", a, 3), new("MT again", a, 3), new EvaluationOptions()).Note); // 1 of 3
    }

    [Fact]
    public void Paired_comparison_refuses_different_problems()
    {
        var a = new List<RolloutSummary> { Rollout("x", 0, true), Rollout("x", 1, true) };
        var b = new List<RolloutSummary> { Rollout("y", 0, true), Rollout("y", 1, true) };
        var e = Assert.Throws<ArgumentException>(() => PairedComparison.Compute("solve_rate", new("A", a, 3), new("B", b, 3), new EvaluationOptions()));
        Assert.Contains("x is in A", e.Message);
    }

    [Fact]
    public void Rollout_order_of_arrival_does_not_change_rollout_bootstrap_intervals()
    {
        List<RolloutSummary> ordered = Rollouts.Random(problems: 12, perProblem: 4, turnLimit: 3, seed: 3)
            .Select((r, i) => r with { RolloutIndex = i % 4 }).ToList();
        var shuffled = ordered.OrderBy(r => r.RolloutIndex).ThenByDescending(r => r.ProblemId).ToList();
        var options = new EvaluationOptions { PassAtK = [1], NAtK = [new(1, 3)] };
        Assert.Equal(EvaluationReport.Compute(ordered, options).Find("1@3", 3)!.Estimate,
            EvaluationReport.Compute(shuffled, options).Find("1@3", 3)!.Estimate);
    }

    private static RolloutSummary Rollout(string problem, int index, bool correct) =>
        new(problem, [new TurnSummary(correct ? TurnOutcome.Passed : TurnOutcome.WrongOutput, "print(1)")], correct, index);
}

public class ChrFTests
{
    [Fact]
    public void Identical_code_scores_one_and_changes_nothing()
    {
        const string code = "n = int(input())\nprint(sum(range(n + 1)))\n";
        Assert.Equal(1.0, ChrF.Score(code, code), 12);
        Assert.Equal(0.0, ChrF.Change(code, code), 12);
    }

    [Fact]
    public void Disjoint_characters_score_zero()
    {
        Assert.Equal(0.0, ChrF.Score("abcdef", "uvwxyz"), 12);
        Assert.Equal(1.0, ChrF.Change("print(1)", "qqqq"), 12);
    }

    [Fact]
    public void Whitespace_does_not_count()
    {
        Assert.Equal(1.0, ChrF.Score("for i in x:\n    f(i)", "foriinx:f(i)"), 12);
        Assert.Equal(0.0, ChrF.Score("   \n", "abc"));
    }

    [Fact]
    public void Matches_a_hand_checked_case()
    {
        // Hypothesis "ab", reference "abc": unigrams match 2 → P 1, R 2/3; bigrams match "ab" → P 1, R 1/2; orders ≥ 3
        // have no hypothesis n-gram and are not effective. Mean P = 1, mean R = 7/12;
        // F2 = 5 · 1 · 7/12 / (4 · 1 + 7/12) = 7/11.
        Assert.Equal(7.0 / 11, ChrF.Score("ab", "abc"), 12);
        // β = 2 favours recall: the reverse direction (P 7/12, R 1) scores higher.
        Assert.Equal(5 * (7.0 / 12) / (4 * (7.0 / 12) + 1), ChrF.Score("abc", "ab"), 12);
    }

    [Fact]
    public void Counts_repeated_ngrams_with_clipping()
    {
        // Unigrams: hyp a×4, ref a×2 → 2 matches, P 1/2, R 1; bigrams: hyp aa×3, ref aa×1 → P 1/3, R 1.
        // Mean P = 5/12, R = 1; F2 = 5 · 5/12 / (4 · 5/12 + 1) = 25/32.
        Assert.Equal(25.0 / 32, ChrF.Score("aaaa", "aa"), 12);
    }

    [Fact]
    public void Treats_characters_outside_the_basic_plane_as_one_character()
    {
        // "𝑥" is one scalar (two UTF-16 units): "𝑥y" against "𝑥" matches the unigram 𝑥 only.
        // Unigrams P 1/2, R 1; the reference has no bigram, so one effective order: F2 = 5 · 1/2 / (2 + 1) = 5/6.
        Assert.Equal(5.0 / 6, ChrF.Score("𝑥y", "𝑥"), 12);
    }
}
