namespace Rlef.Engine.Layers;

/// <summary>
/// RMSNorm as in Llama/Qwen: y = w ⊙ x / sqrt(mean(x²) + eps), computed in fp32.
/// The forward saves 1/rms per row (rstd) for the backward.
/// </summary>
public static class RmsNorm
{
    // out[N,C], rstd[N], input[N,C], weight[C]
    public static void Forward(float[] output, float[] rstd, float[] input, float[] weight, int rows, int channels, float eps)
    {
        Parallelism.ForChunks(rows, 3L * channels, (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var x = input.AsSpan(n * channels, channels);
                float r = 1f / MathF.Sqrt(Simd.Dot(x, x) / channels + eps);
                rstd[n] = r;
                Simd.ScaleMul(x, weight, r, output.AsSpan(n * channels, channels));
            }
        });
    }

    // dInput[N,C] += ∂L/∂x, dWeight[C] += ∂L/∂w (null when the weight is frozen), dOut[N,C].
    // ∂L/∂x = r·(w⊙g) − r³/C · x · Σ(w⊙g⊙x), with g = dOut.
    public static void Backward(float[] dInput, float[]? dWeight, float[] dOutput, float[] input, float[] weight, float[] rstd,
        int rows, int channels, float[] scratch)
    {
        // scratch[N,C] receives w⊙g per row; the input gradient is then a fused combination of it and x.
        Parallelism.ForChunks(rows, 5L * channels, (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var g = dOutput.AsSpan(n * channels, channels);
                var x = input.AsSpan(n * channels, channels);
                var wg = scratch.AsSpan(n * channels, channels);
                wg.Clear();
                Simd.MulAddScaled(weight, g, 1f, wg);
                float r = rstd[n];
                float dot = Simd.Dot(wg, x);
                var dx = dInput.AsSpan(n * channels, channels);
                Simd.Axpy(r, wg, dx);
                Simd.Axpy(-r * r * r * dot / channels, x, dx);
            }
        });
        if (dWeight == null) return;
        // Weight gradient: a reduction over rows. Threads split the columns (blocks of 64), so each sums its own
        // columns over all rows in a fixed order: parallel and deterministic.
        const int block = 64;
        int blocks = (channels + block - 1) / block;
        Parallelism.ForChunks(blocks, 2L * rows * block, (b0, b1) =>
        {
            int c0 = b0 * block, c1 = Math.Min(channels, b1 * block);
            for (int n = 0; n < rows; n++)
                Simd.MulAddScaled(dOutput.AsSpan(n * channels + c0, c1 - c0), input.AsSpan(n * channels + c0, c1 - c0), rstd[n],
                    dWeight.AsSpan(c0, c1 - c0));
        });
    }
}
