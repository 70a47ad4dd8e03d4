namespace Rlef.Evaluation.Estimators;

/// <summary>
/// The unbiased pass@k estimator of Chen et al. 2021: with n samples of which c are correct, the probability that a
/// uniformly drawn k-subset holds at least one correct sample, 1 − C(n−c, k) / C(n, k).
/// </summary>
public static class PassAtK
{
    public static double Estimate(int samples, int correct, int k)
    {
        if (samples < 1 || correct < 0 || correct > samples)
            throw new ArgumentOutOfRangeException(nameof(correct), $"pass@k needs 0 <= correct ({correct}) <= samples ({samples}), samples >= 1");
        if (k < 1 || k > samples)
            throw new ArgumentOutOfRangeException(nameof(k), $"pass@{k} needs 1 <= k <= samples ({samples})");
        if (samples - correct < k)
            return 1.0; // every k-subset holds a correct sample

        // C(n−c, k) / C(n, k) = Π_{i=n−c+1}^{n} (1 − k/i): a product of factors in (0, 1], no huge binomials.
        double allWrong = 1.0;
        for (int i = samples - correct + 1; i <= samples; i++)
            allWrong *= 1.0 - (double)k / i;
        return 1.0 - allWrong;
    }
}
