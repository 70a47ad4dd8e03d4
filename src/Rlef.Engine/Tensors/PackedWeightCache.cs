using Rlef.Engine.Kernels;

namespace Rlef.Engine.Tensors;

/// <summary>
/// Packed copies of a model's linear weights, built on first use and reused while each weight's
/// <see cref="Parameter.Version"/> is unchanged (an optimizer step or a load bumps it, and the next use repacks in
/// place) and until <see cref="Invalidate"/>. A model reads it only inside
/// <see cref="Model.LlamaModel.UsePackedWeights"/>, around passes that run the same weights many times (decoding,
/// scoring), and invalidates it when such a scope opens: a write to Data that does not bump the version can only be
/// missed if it happens during such a pass. The packed arrays are kept between scopes, so they are allocated once.
/// </summary>
public sealed class PackedWeightCache
{
    private readonly Dictionary<Parameter, (PackedWeight Packed, int Version, int Generation)> _entries = new(ReferenceEqualityComparer.Instance);
    private readonly Lock _lock = new();
    private int _generation;

    /// <summary>Every copy is repacked on its next use (the arrays are kept).</summary>
    public void Invalidate()
    {
        lock (_lock) _generation++;
    }

    /// <summary>The packed form of <paramref name="weight"/> viewed as [rows, columns], packing it now if needed.</summary>
    public PackedWeight For(Parameter weight, int rows, int columns)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(weight, out var entry) && entry.Packed.Rows == rows && entry.Packed.Columns == columns
                && entry.Packed.Fits(Gemm.Isa, Gemm.KC))
            {
                if (entry.Version != weight.Version || entry.Generation != _generation)
                {
                    int version = weight.Version; // read before packing: a write during it is seen next time
                    entry.Packed.Repack();
                    _entries[weight] = (entry.Packed, version, _generation);
                }
                return entry.Packed;
            }
            int current = weight.Version;
            var packed = PackedWeight.Pack(weight.Data, rows, columns);
            _entries[weight] = (packed, current, _generation);
            return packed;
        }
    }

    /// <summary>Bytes held by the packed copies.</summary>
    public long Bytes
    {
        get { lock (_lock) return _entries.Values.Sum(e => e.Packed.Bytes); }
    }
}
