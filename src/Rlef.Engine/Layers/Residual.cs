namespace Rlef.Engine.Layers;

/// <summary>Residual connection: stream += branch. Its backward is the identity (the gradient flows to both).</summary>
public static class Residual
{
    public static void AddInPlace(Span<float> stream, ReadOnlySpan<float> branch) => Simd.Add(branch, stream);
}
