using Rlef.Training.Ppo;
using Rlef.Training.Runs;

namespace Rlef.Training.Tests;

// The engine back-propagates from DLogProb and DValue, so they must be the true derivatives of the reported losses.
// Checked by central finite differences in double precision on random inputs kept away from the kinks (clip
// boundaries), with π_b below π_θ so the stop-gradient factor is 1 (its scaling is tested by hand elsewhere).
public class GradientSeamTests
{
    [Fact]
    public void Policy_gradient_matches_finite_differences()
    {
        var rng = new Xoshiro256(7);
        const int n = 64;
        var lp = new float[n];
        var oldLp = new float[n];
        var behaviour = new float[n];
        var adv = new float[n];
        for (int k = 0; k < n; k++)
        {
            double ratio;
            do ratio = 0.5 + rng.NextDouble(); // 0.5 .. 1.5: all four regions occur
            while (Math.Abs(ratio - 0.8) < 0.02 || Math.Abs(ratio - 1.2) < 0.02);
            oldLp[k] = (float)(-3 * rng.NextDouble());
            lp[k] = (float)(oldLp[k] + Math.Log(ratio));
            behaviour[k] = lp[k] - 1f;
            adv[k] = (float)(2 * rng.NextDouble() - 1);
        }
        float[] grad = PpoMath.PolicyLoss(lp, oldLp, behaviour, adv, 0.2).DLogProb;

        int flowing = 0;
        for (int k = 0; k < n; k++)
        {
            double numeric = CentralDifference(h =>
            {
                float[] shifted = (float[])lp.Clone();
                float[] shiftedBehaviour = (float[])behaviour.Clone();
                shifted[k] += h;
                shiftedBehaviour[k] += h; // keep π_θ/π_b fixed: the factor is a stop-gradient constant
                return PpoMath.PolicyLoss(shifted, oldLp, shiftedBehaviour, adv, 0.2).Loss;
            });
            Assert.Equal(numeric, grad[k], 2e-4);
            if (grad[k] != 0) flowing++;
        }
        Assert.InRange(flowing, 1, n - 1); // both clipped and unclipped tokens were checked
    }

    [Fact]
    public void Value_gradient_matches_finite_differences()
    {
        var rng = new Xoshiro256(11);
        const int n = 64;
        var v = new float[n];
        var vOld = new float[n];
        var g = new float[n];
        for (int i = 0; i < n; i++)
        {
            vOld[i] = (float)(2 * rng.NextDouble() - 1);
            g[i] = (float)(2 * rng.NextDouble() - 1);
            float delta;
            do delta = (float)(rng.NextDouble() - 0.5); // ±0.5 around V_old: inside and outside ±0.2
            while (Math.Abs(Math.Abs(delta) - 0.2) < 0.02);
            v[i] = vOld[i] + delta;
        }
        ValueLossResult result = PpoMath.ValueLoss(v, vOld, g, 0.2);
        for (int i = 0; i < n; i++)
        {
            double numeric = CentralDifference(h =>
            {
                float[] shifted = (float[])v.Clone();
                shifted[i] += h;
                return PpoMath.ValueLoss(shifted, vOld, g, 0.2).Loss;
            });
            Assert.Equal(numeric, result.DValue[i], 2e-4);
        }
        Assert.InRange(result.ClipFraction, 0.01, 0.99);
    }

    /// <summary>d f / d x by (f(x + h) − f(x − h)) / 2h with the float step actually taken.</summary>
    static double CentralDifference(Func<float, double> f)
    {
        const float h = 1e-3f;
        return (f(h) - f(-h)) / (2 * h);
    }
}
