using Rlef.Engine.Kernels;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Optim;

/// <summary>
/// Splits a list of parameters into fixed-size pieces so element-wise passes (AdamW, norms, scaling) balance over
/// the engine threads whatever the mix of tensor sizes (a 38M-element embedding beside 768-element norms).
/// </summary>
internal readonly record struct ParameterChunk(int Parameter, int Start, int Length)
{
    public const int Size = 1 << 15;

    public static ParameterChunk[] Split(IReadOnlyList<Parameter> parameters, Func<Parameter, bool> include)
    {
        var chunks = new List<ParameterChunk>();
        for (int p = 0; p < parameters.Count; p++)
        {
            if (!include(parameters[p])) continue;
            int length = parameters[p].Length;
            for (int start = 0; start < length; start += Size) chunks.Add(new(p, start, Math.Min(Size, length - start)));
        }
        return chunks.ToArray();
    }

    /// <summary>Runs body(index, chunk) on every chunk, in parallel on the engine threads.</summary>
    public static void ForEach(ParameterChunk[] chunks, Action<int, ParameterChunk> body) =>
        EngineThreads.For(chunks.Length, i => body(i, chunks[i]));
}
