namespace Rlef.Engine.Tests.Layers;

/// <summary>
/// Finite-difference gradient checks. The forward runs in fp32, so the loss is summed in double and compared by
/// central differences with a step large enough to rise above fp32 rounding; tolerances are relative plus absolute.
/// </summary>
internal static class GradCheck
{
    public static float[] RandomArray(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>
    /// Checks analytic[i] ≈ ∂loss/∂x[i] for up to `samples` indices of x (all if fewer), perturbing x in place.
    /// </summary>
    public static void Check(string name, float[] x, float[] analytic, Func<double> loss, int samples = 40, float step = 1e-2f,
        double relTol = 2e-2, double absTol = 2e-3, int seed = 1)
    {
        Assert.Equal(x.Length, analytic.Length);
        var rng = new Random(seed);
        var indices = x.Length <= samples ? Enumerable.Range(0, x.Length) : Enumerable.Range(0, samples).Select(_ => rng.Next(x.Length));
        double maxAnalytic = analytic.Max(Math.Abs);
        Assert.True(maxAnalytic > 1e-6, $"{name}: the analytic gradient is all zero, the check would prove nothing.");
        foreach (int i in indices)
        {
            float saved = x[i];
            x[i] = saved + step; double plus = loss();
            x[i] = saved - step; double minus = loss();
            x[i] = saved;
            double numeric = (plus - minus) / (2 * step);
            double error = Math.Abs(numeric - analytic[i]);
            double allowed = absTol + relTol * Math.Max(Math.Abs(numeric), Math.Abs(analytic[i]));
            Assert.True(error <= allowed, $"{name}[{i}]: analytic {analytic[i]:G6}, numeric {numeric:G6} (error {error:G3} > {allowed:G3})");
        }
    }

    /// <summary>Σ r[i]·y[i] in double: a random linear functional of a layer's output, whose gradient is r.</summary>
    public static double Dot(float[] r, ReadOnlySpan<float> y)
    {
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += (double)r[i] * y[i];
        return s;
    }
}
