using Rlef.Engine.Kernels;

namespace Rlef.Engine.Layers;

/// <summary>
/// y = x·Wᵀ + b with W[out,in] as Hugging Face stores it. Matmuls go through <see cref="Gemm"/> only.
/// </summary>
public static class Linear
{
    // out[N,OC], input[N,C], weight[OC,C], bias[OC] or null
    public static void Forward(Span<float> output, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures)
    {
        Gemm.NT(input, weight, output, rows, outFeatures, inFeatures);
        AddBias(output, bias, rows, outFeatures);
    }

    // The same with W packed beforehand (same bits; see PackedWeight).
    public static void Forward(Span<float> output, ReadOnlySpan<float> input, PackedWeight weight, ReadOnlySpan<float> bias, int rows)
    {
        Gemm.NT(input, weight, output, rows);
        AddBias(output, bias, rows, weight.Rows);
    }

    private static void AddBias(Span<float> output, ReadOnlySpan<float> bias, int rows, int outFeatures)
    {
        if (bias.IsEmpty) return;
        for (int n = 0; n < rows; n++) Simd.Add(bias, output.Slice(n * outFeatures, outFeatures));
    }

    // dInput[N,C] (+)= dOut·W (skipped when empty; accumulate when the input also feeds another branch),
    // dWeight[OC,C] += dOutᵀ·x and dBias[OC] += Σ_n dOut (skipped when empty: frozen weights).
    public static void Backward(Span<float> dInput, bool accumulateInput, Span<float> dWeight, Span<float> dBias,
        ReadOnlySpan<float> dOutput, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, int rows, int inFeatures, int outFeatures)
    {
        if (!dInput.IsEmpty) Gemm.NN(dOutput, weight, dInput, rows, inFeatures, outFeatures, accumulateInput);
        if (!dWeight.IsEmpty) Gemm.TN(dOutput, input, dWeight, outFeatures, inFeatures, rows, accumulate: true);
        if (!dBias.IsEmpty)
            for (int n = 0; n < rows; n++) Simd.Add(dOutput.Slice(n * outFeatures, outFeatures), dBias);
    }
}
