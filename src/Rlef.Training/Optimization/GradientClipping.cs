using Rlef.Engine.Tensors;

namespace Rlef.Training.Optimization;

/// <summary>Global gradient-norm clipping over a network's parameters, before the optimizer step (issue #5, item 3).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales every trainable gradient by min(1, maxNorm / ‖g‖), ‖g‖ the L2 norm over all of them together, and
    /// returns ‖g‖ before clipping (logged: a run whose norms sit at the limit is clipping every step).
    /// A non-finite norm is returned unchanged and nothing is scaled, so the caller can skip that update.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "must be > 0");
        List<Parameter> trainable = parameters.Where(p => !p.Frozen).ToList();
        double sumOfSquares = 0;
        foreach (Parameter p in trainable)
            foreach (float g in p.Grad)
                sumOfSquares += (double)g * g;
        double norm = Math.Sqrt(sumOfSquares);
        if (!double.IsFinite(norm) || norm <= maxNorm) return norm;

        float scale = (float)(maxNorm / norm);
        foreach (Parameter p in trainable)
        {
            Span<float> grad = p.Grad;
            for (int i = 0; i < grad.Length; i++) grad[i] *= scale;
        }
        return norm;
    }
}
