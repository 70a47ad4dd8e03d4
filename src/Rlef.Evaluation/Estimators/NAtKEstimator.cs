namespace Rlef.Evaluation.Estimators;

/// <summary>
/// AlphaCode's n@k estimated from N rollouts of one problem: draw k' rollouts without replacement, keep the p that pass
/// the public tests, submit all of them when p ≤ n and a uniformly random n of them otherwise; the problem is solved
/// when a submitted rollout passes all tests.
/// <para>
/// Closed form. The number j of public-passing rollouts in the draw is hypergeometric,
/// P(j) = C(P, j) · C(N−P, k'−j) / C(N, k'). Given j, the m = min(j, n) submitted rollouts are a uniformly random
/// m-subset of the P public-passing ones (a uniform j-subset, then a uniform n-subset of it), so they all fail with
/// probability C(P−C, m) / C(P, m), C counting the correct ones. Hence
/// n@k = 1 − Σ_j P(j) · C(P−C, min(j, n)) / C(P, min(j, n)).
/// Binomials are taken in log space so that N in the hundreds or thousands does not overflow.
/// </para>
/// </summary>
public static class NAtKEstimator
{
    /// <param name="rollouts">N, the rollouts of this problem.</param>
    /// <param name="publicPassing">P, rollouts whose submission passes the public tests.</param>
    /// <param name="correct">C, public-passing rollouts whose submission passes all tests (C ≤ P).</param>
    /// <param name="submissions">n, the most rollouts submitted.</param>
    /// <param name="drawn">k', the rollouts drawn (the sample budget k divided by the samples per rollout).</param>
    public static double Estimate(int rollouts, int publicPassing, int correct, int submissions, int drawn)
    {
        if (rollouts < 1 || publicPassing < 0 || publicPassing > rollouts || correct < 0 || correct > publicPassing)
            throw new ArgumentOutOfRangeException(nameof(correct),
                $"n@k needs 0 <= correct ({correct}) <= public-passing ({publicPassing}) <= rollouts ({rollouts}), rollouts >= 1");
        if (drawn < 1 || drawn > rollouts)
            throw new ArgumentOutOfRangeException(nameof(drawn), $"n@k draws 1..{rollouts} rollouts, not {drawn}");
        if (submissions < 1)
            throw new ArgumentOutOfRangeException(nameof(submissions), $"n@k submits at least one rollout, not {submissions}");
        if (correct == 0)
            return 0.0;

        int wrongPublicPassing = publicPassing - correct;
        double logAllDraws = LogBinomial.Of(rollouts, drawn);
        double allFail = 0.0;
        for (int j = Math.Max(0, drawn - (rollouts - publicPassing)); j <= Math.Min(drawn, publicPassing); j++)
        {
            double drawProbability = Math.Exp(LogBinomial.Of(publicPassing, j) + LogBinomial.Of(rollouts - publicPassing, drawn - j) - logAllDraws);
            int submitted = Math.Min(j, submissions);
            double submittedAllWrong = submitted > wrongPublicPassing
                ? 0.0
                : Math.Exp(LogBinomial.Of(wrongPublicPassing, submitted) - LogBinomial.Of(publicPassing, submitted));
            allFail += drawProbability * submittedAllWrong;
        }
        return Math.Clamp(1.0 - allFail, 0.0, 1.0);
    }
}

/// <summary>ln C(n, k) from a table of ln m! grown on demand (sums of logs: exact to ~1e-13 relative for n ≤ 10^5).</summary>
internal static class LogBinomial
{
    private static double[] s_logFactorial = [0.0];
    private static readonly Lock s_grow = new();

    public static double Of(int n, int k)
    {
        if (k < 0 || k > n)
            throw new ArgumentOutOfRangeException(nameof(k), $"C({n}, {k}) is zero; its log is undefined");
        double[] table = LogFactorials(n);
        return table[n] - table[k] - table[n - k];
    }

    private static double[] LogFactorials(int n)
    {
        double[] table = s_logFactorial;
        if (n < table.Length)
            return table;
        lock (s_grow)
        {
            table = s_logFactorial;
            if (n < table.Length)
                return table;
            var grown = new double[Math.Max(n + 1, table.Length * 2)];
            Array.Copy(table, grown, table.Length);
            for (int m = table.Length; m < grown.Length; m++)
                grown[m] = grown[m - 1] + Math.Log(m);
            s_logFactorial = grown;
            return grown;
        }
    }
}
