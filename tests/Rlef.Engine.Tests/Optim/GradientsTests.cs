using Rlef.Engine.Optim;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Tests.Optim;

public class GradientsTests
{
    private static Parameter WithGrad(string name, params float[] grad)
    {
        var p = new Parameter(name, [grad.Length]);
        grad.CopyTo(p.Grad, 0);
        return p;
    }

    [Fact]
    public void ClipReturnsTheNormAndScalesDownToTheLimit()
    {
        Parameter[] ps = [WithGrad("a", 3), WithGrad("b", 0, 4), WithGrad("frozen", 100)];
        ps[2].Frozen = true;
        Assert.Equal(5, Gradients.GlobalNorm(ps), 6);
        Assert.Equal(2.5, Gradients.GlobalNorm(ps, scale: 0.5), 6);
        Assert.Equal(5, Gradients.ClipByGlobalNorm(ps, maxNorm: 1), 6);
        Assert.Equal(0.6f, ps[0].Grad[0], 5);
        Assert.Equal(0.8f, ps[1].Grad[1], 5);
        Assert.Equal(100f, ps[2].Grad[0]);
        Assert.Equal(1, Gradients.GlobalNorm(ps), 5);
        // Within the limit: untouched.
        Assert.Equal(1, Gradients.ClipByGlobalNorm(ps, maxNorm: 2), 5);
        Assert.Equal(0.6f, ps[0].Grad[0], 5);
    }

    [Fact]
    public void LargeNormIsAccurateAndVectorPathCovered()
    {
        // 100,003 elements of 0.5 (chunks, vector body, scalar tail): norm = 0.5·√n.
        var p = new Parameter("w", [100_003]);
        Array.Fill(p.Grad, 0.5f);
        Assert.Equal(0.5 * Math.Sqrt(100_003), Gradients.GlobalNorm([p]), 9);
        Gradients.Scale([p], 2f);
        Assert.All(p.Grad, g => Assert.Equal(1f, g));
        Gradients.Zero([p]);
        Assert.All(p.Grad, g => Assert.Equal(0f, g));
    }

    [Fact]
    public void NonFiniteNormLeavesGradientsForTheCallerToSkip()
    {
        Parameter[] ps = [WithGrad("a", 1, float.NaN)];
        Assert.True(double.IsNaN(Gradients.ClipByGlobalNorm(ps, 1)));
        Assert.Equal(1f, ps[0].Grad[0]);
    }
}
