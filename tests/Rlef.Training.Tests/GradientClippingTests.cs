using Rlef.Engine.Tensors;
using Rlef.Training.Optimization;

namespace Rlef.Training.Tests;

public class GradientClippingTests
{
    [Fact]
    public void Clips_the_global_norm_and_leaves_frozen_parameters_alone()
    {
        var a = new Parameter("a", [2]);
        var b = new Parameter("b", [1]);
        var frozen = new Parameter("ref", [1]) { Frozen = true };
        a.Grad[0] = 3; a.Grad[1] = 0; b.Grad[0] = 4; frozen.Grad[0] = 100;
        double norm = GradientClipping.ClipGlobalNorm([a, b, frozen], 1.0);
        Assert.Equal(5.0, norm, 1e-9);
        Assert.Equal(0.6f, a.Grad[0], 1e-6f);
        Assert.Equal(0.8f, b.Grad[0], 1e-6f);
        Assert.Equal(100f, frozen.Grad[0]);

        Assert.Equal(1.0, GradientClipping.ClipGlobalNorm([a, b], 2.0), 1e-6); // under the limit: unchanged
        Assert.Equal(0.6f, a.Grad[0], 1e-6f);
    }
}
