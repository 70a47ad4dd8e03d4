namespace Rlef.Engine.Layers;

/// <summary>Token embedding lookup: out[n,:] = table[tokens[n],:].</summary>
public static class Embedding
{
    // out[N,C], tokens[N], table[V,C]
    public static void Forward(Span<float> output, ReadOnlySpan<int> tokens, ReadOnlySpan<float> table, int channels)
    {
        int vocab = table.Length / channels;
        for (int n = 0; n < tokens.Length; n++)
        {
            int t = tokens[n];
            if ((uint)t >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token id {t} at position {n} is outside the vocabulary (size {vocab}).");
            table.Slice(t * channels, channels).CopyTo(output.Slice(n * channels, channels));
        }
    }

    // dTable[V,C] += scatter of dOut[N,C] by tokens[N]. Serial: the same token may occur twice.
    public static void Backward(Span<float> dTable, ReadOnlySpan<float> dOutput, ReadOnlySpan<int> tokens, int channels)
    {
        for (int n = 0; n < tokens.Length; n++)
            Simd.Add(dOutput.Slice(n * channels, channels), dTable.Slice(tokens[n] * channels, channels));
    }
}
