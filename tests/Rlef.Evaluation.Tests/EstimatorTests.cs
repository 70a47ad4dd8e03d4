using System.Numerics;
using Rlef.Evaluation.Estimators;

namespace Rlef.Evaluation.Tests;

public class PassAtKTests
{
    [Theory]
    // 1 − C(n−c, k) / C(n, k), worked out by hand.
    [InlineData(5, 2, 2, 0.7)]          // 1 − 3/10
    [InlineData(10, 1, 1, 0.1)]         // 1 − 9/10
    [InlineData(10, 3, 5, 11.0 / 12)]   // 1 − 21/252
    [InlineData(4, 0, 2, 0.0)]
    [InlineData(4, 3, 2, 1.0)]          // n − c < k: every pair holds a correct sample
    [InlineData(200, 1, 100, 0.5)]      // one correct sample among 200, half of them drawn
    public void Matches_hand_computed_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, PassAtK.Estimate(n, c, k), 12);

    [Fact]
    public void Matches_exact_binomial_ratio_for_every_small_case()
    {
        for (int n = 1; n <= 14; n++)
            for (int c = 0; c <= n; c++)
                for (int k = 1; k <= n; k++)
                {
                    double exact = 1.0 - (double)Binomial(n - c, k) / (double)Binomial(n, k);
                    Assert.True(Math.Abs(exact - PassAtK.Estimate(n, c, k)) < 1e-12, $"n={n} c={c} k={k}");
                }
    }

    [Fact]
    public void Stays_finite_where_binomials_overflow_doubles()
    {
        // C(2000, 1000) ≈ 10^600 overflows a double; the product form does not.
        double value = PassAtK.Estimate(2000, 3, 1000);
        Assert.Equal(1 - 1000.0 * 999 * 998 / (2000.0 * 1999 * 1998), value, 12);
    }

    [Fact]
    public void Rejects_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(5, 6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(5, 1, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => PassAtK.Estimate(5, 1, 0));
    }

    internal static BigInteger Binomial(int n, int k)
    {
        if (k < 0 || k > n)
            return BigInteger.Zero;
        BigInteger result = BigInteger.One;
        for (int i = 1; i <= k; i++)
            result = result * (n - k + i) / i;
        return result;
    }
}

public class NAtKEstimatorTests
{
    [Fact]
    public void Matches_a_case_worked_out_by_hand()
    {
        // Rollouts a (correct), b (passes public tests only), c, d (fail public tests); draw 2, submit 1.
        // Pairs: ab → one of a, b at random: 1/2; ac, ad → 1; bc, bd, cd → 0. Mean (1/2 + 1 + 1) / 6 = 5/12.
        Assert.Equal(5.0 / 12, NAtKEstimator.Estimate(rollouts: 4, publicPassing: 2, correct: 1, submissions: 1, drawn: 2), 12);
    }

    [Fact]
    public void Matches_brute_force_enumeration_of_draws_and_tie_breaks()
    {
        for (int rollouts = 1; rollouts <= 8; rollouts++)
            for (int publicPassing = 0; publicPassing <= rollouts; publicPassing++)
                for (int correct = 0; correct <= publicPassing; correct++)
                    for (int drawn = 1; drawn <= rollouts; drawn++)
                        for (int submissions = 1; submissions <= 4; submissions++)
                        {
                            double expected = BruteForce(rollouts, publicPassing, correct, submissions, drawn);
                            double actual = NAtKEstimator.Estimate(rollouts, publicPassing, correct, submissions, drawn);
                            Assert.True(Math.Abs(expected - actual) < 1e-12,
                                $"N={rollouts} P={publicPassing} C={correct} n={submissions} k'={drawn}: brute force {expected}, closed form {actual}");
                        }
    }

    [Fact]
    public void Agrees_with_simulation_at_paper_scale()
    {
        // 10@100 at three turns: 33 of 200 rollouts drawn, up to 10 submitted.
        const int rollouts = 200, publicPassing = 30, correct = 4, submissions = 10, drawn = 33, trials = 100_000;
        double closedForm = NAtKEstimator.Estimate(rollouts, publicPassing, correct, submissions, drawn);
        var random = new Random(7);
        int[] indices = Enumerable.Range(0, rollouts).ToArray();
        int solved = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            random.Shuffle(indices);
            // The first 33 are the draw; the public-passing ones among them keep their shuffled order, which makes the
            // first 10 of them a uniformly random choice. Indices < correct are correct, < publicPassing pass public.
            int submitted = 0;
            bool hit = false;
            for (int i = 0; i < drawn && submitted < submissions; i++)
                if (indices[i] < publicPassing)
                {
                    submitted++;
                    hit |= indices[i] < correct;
                }
            solved += hit ? 1 : 0;
        }
        // Standard error of the simulation is below 0.0016; allow 4 of them.
        Assert.InRange(closedForm, (double)solved / trials - 0.0064, (double)solved / trials + 0.0064);
    }

    [Fact]
    public void One_at_one_is_the_share_of_correct_rollouts()
    {
        Assert.Equal(7.0 / 20, NAtKEstimator.Estimate(20, 9, 7, 1, 1), 12);
    }

    [Fact]
    public void Stays_finite_for_thousands_of_rollouts()
    {
        double value = NAtKEstimator.Estimate(rollouts: 5000, publicPassing: 400, correct: 3, submissions: 10, drawn: 1000);
        Assert.InRange(value, 0.0, 1.0);
        Assert.True(value > 0.01);
    }

    [Fact]
    public void Rejects_impossible_counts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NAtKEstimator.Estimate(5, 2, 3, 1, 1)); // correct > public-passing
        Assert.Throws<ArgumentOutOfRangeException>(() => NAtKEstimator.Estimate(5, 2, 1, 1, 6)); // draw more than exist
        Assert.Throws<ArgumentOutOfRangeException>(() => NAtKEstimator.Estimate(5, 2, 1, 0, 2));
    }

    /// <summary>
    /// Averages over every draw of <paramref name="drawn"/> rollouts and, when more than <paramref name="submissions"/>
    /// of them pass the public tests, over every choice of the submitted ones. Rollout i is correct when i &lt; C and
    /// passes the public tests when i &lt; P.
    /// </summary>
    private static double BruteForce(int rollouts, int publicPassing, int correct, int submissions, int drawn)
    {
        double total = 0;
        int draws = 0;
        for (int draw = 0; draw < 1 << rollouts; draw++)
        {
            if (BitOperations.PopCount((uint)draw) != drawn)
                continue;
            draws++;
            int[] passing = Enumerable.Range(0, rollouts).Where(i => (draw >> i & 1) == 1 && i < publicPassing).ToArray();
            if (passing.Length <= submissions)
            {
                total += passing.Any(i => i < correct) ? 1 : 0;
                continue;
            }
            int choices = 0, hits = 0;
            for (int choice = 0; choice < 1 << passing.Length; choice++)
            {
                if (BitOperations.PopCount((uint)choice) != submissions)
                    continue;
                choices++;
                bool hit = false;
                for (int j = 0; j < passing.Length; j++)
                    hit |= (choice >> j & 1) == 1 && passing[j] < correct;
                hits += hit ? 1 : 0;
            }
            total += (double)hits / choices;
        }
        return total / draws;
    }
}
