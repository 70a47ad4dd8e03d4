using Rlef.Engine.Kernels;

namespace Rlef.Engine.Tensors;

/// <summary>
/// Packed copies of a model's linear weights, built on first use and reused while each weight's
/// <see cref="Parameter.Version"/> is unchanged (an optimizer step or a load bumps it, and the next use repacks in
/// place). A model keeps one only inside <see cref="Model.LlamaModel.UsePackedWeights"/>, around passes that run the
/// same weights many times (decoding, scoring), so the copies' memory is held only while they pay off and a write to
/// Data that does not bump the version can only be missed if it happens during such a pass.
/// </summary>
public sealed class PackedWeightCache
{
    private readonly Dictionary<Parameter, (PackedWeight Packed, int Version)> _entries = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();

    /// <summary>The packed form of <paramref name="weight"/> viewed as [rows, columns], packing it now if needed.</summary>
    public PackedWeight For(Parameter weight, int rows, int columns)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(weight, out var entry) && entry.Packed.Rows == rows && entry.Packed.Columns == columns
                && entry.Packed.Fits(Gemm.Isa, Gemm.KC))
            {
                if (entry.Version != weight.Version)
                {
                    entry.Packed.Repack();
                    _entries[weight] = (entry.Packed, weight.Version);
                }
                return entry.Packed;
            }
            var packed = PackedWeight.Pack(weight.Data, rows, columns);
            _entries[weight] = (packed, weight.Version);
            return packed;
        }
    }

    /// <summary>Bytes held by the packed copies.</summary>
    public long Bytes
    {
        get { lock (_lock) return _entries.Values.Sum(e => e.Packed.Bytes); }
    }
}
