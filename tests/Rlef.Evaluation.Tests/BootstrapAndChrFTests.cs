using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation.Tests;

public class ProblemBootstrapTests
{
    private static readonly double[] SolvedShares =
        [0, 0, 0.1, 0.2, 0.2, 0.5, 0.9, 1, 0, 0.3, 0.4, 0.1, 0, 0.6, 0.7, 0.05, 0.15, 0.25, 0, 1];

    [Fact]
    public void Interval_contains_the_point_estimate_and_brackets_it_sensibly()
    {
        var bootstrap = new ProblemBootstrap(SolvedShares.Length, resamples: 200, seed: 1);
        Estimate e = bootstrap.Mean(SolvedShares);
        Assert.Equal(SolvedShares.Average(), e.Value, 12);
        Assert.InRange(e.Value, e.CiLow, e.CiHigh);
        Assert.True(e.CiHigh - e.CiLow > 0.05, "twenty problems this spread cannot pin the mean to within 5 points");
        Assert.True(e.CiHigh - e.CiLow < 0.5);
    }

    [Fact]
    public void Same_seed_same_interval_other_seed_other_interval()
    {
        Estimate a = new ProblemBootstrap(SolvedShares.Length, 200, seed: 42).Mean(SolvedShares);
        Estimate b = new ProblemBootstrap(SolvedShares.Length, 200, seed: 42).Mean(SolvedShares);
        Estimate c = new ProblemBootstrap(SolvedShares.Length, 200, seed: 43).Mean(SolvedShares);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Constant_results_have_a_zero_width_interval()
    {
        Estimate e = new ProblemBootstrap(5, 200, 0).Mean([0.25, 0.25, 0.25, 0.25, 0.25]);
        Assert.Equal(new Estimate(0.25, 0.25, 0.25), e);
    }

    [Fact]
    public void Ratio_pools_rollouts_and_skips_resamples_without_any()
    {
        // Problem 0 has 4 rollouts in the class, 3 recovered; the others have none.
        var bootstrap = new ProblemBootstrap(4, 200, 3);
        Estimate e = bootstrap.Ratio([3, 0, 0, 0], [4, 0, 0, 0]);
        Assert.Equal(0.75, e.Value, 12);
        Assert.Equal(0.75, e.CiLow, 12); // every resample that has the class at all gives 3/4 (or a multiple of it)
        Assert.Equal(0.75, e.CiHigh, 12);
        Assert.True(double.IsNaN(bootstrap.Ratio([0, 0, 0, 0], [0, 0, 0, 0]).Value));
    }

    [Fact]
    public void Percentile_interpolates_between_order_statistics()
    {
        double[] sorted = [1, 2, 3, 4, 5];
        Assert.Equal(1.1, ProblemBootstrap.Percentile(sorted, 0.025), 12); // position 0.1
        Assert.Equal(4.9, ProblemBootstrap.Percentile(sorted, 0.975), 12); // position 3.9
        Assert.Equal(3.0, ProblemBootstrap.Percentile(sorted, 0.5), 12);
    }
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
