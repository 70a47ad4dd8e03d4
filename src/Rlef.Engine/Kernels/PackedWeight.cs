using System.Runtime.CompilerServices;

namespace Rlef.Engine.Kernels;

/// <summary>
/// A weight W[rows, columns] (a linear layer's [out, in]) packed once into the panels the blocked GEMM reads for
/// A·Wᵀ, so that repeated products with the same weight (every decoding step, every scoring pass) skip packing it.
/// Packing B is 10–17% of a product's time on the m = 256 layer shapes and more at decoding's few rows
/// (docs/results.md, SGEMM entries). The packed copy is a snapshot: it is only valid while W is unchanged, so the
/// caller owns invalidation (see <see cref="PackedWeightCache"/>). It costs as much memory as W.
/// </summary>
public sealed unsafe class PackedWeight
{
    private readonly float[] _storage;

    private PackedWeight(float[] source, int rows, int columns, GemmIsa isa, int kc, int nr)
    {
        Source = source;
        Rows = rows;
        Columns = columns;
        Isa = isa;
        BlockK = kc;
        PaddedRows = (rows + nr - 1) / nr * nr;
        const int align = 16; // floats per 64 bytes
        // Pinned, so the pointer below stays valid; the slack lets the start be rounded up to a cache line.
        _storage = GC.AllocateArray<float>(checked(PaddedRows * columns + align), pinned: true);
        Panels = (float*)(((nint)Unsafe.AsPointer(ref _storage[0]) + 63) & ~(nint)63);
    }

    /// <summary>The unpacked weight, row-major [Rows, Columns]; thin products read it directly.</summary>
    public float[] Source { get; }
    public int Rows { get; }
    public int Columns { get; }
    /// <summary>Bytes held by the packed copy.</summary>
    public long Bytes => (long)_storage.Length * sizeof(float);

    internal GemmIsa Isa { get; }
    internal int BlockK { get; }
    internal int PaddedRows { get; }
    internal float* Panels { get; }

    /// <summary>Whether the panels were laid out for this micro-kernel and K block (tests and benchmarks switch them).</summary>
    internal bool Fits(GemmIsa isa, int kc) => isa == Isa && kc == BlockK;

    /// <summary>Packs W[rows, columns] for <see cref="Gemm.NT(ReadOnlySpan{float}, PackedWeight, Span{float}, int, bool)"/>.</summary>
    public static PackedWeight Pack(float[] weight, int rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (rows <= 0 || columns <= 0 || weight.Length < (long)rows * columns)
            throw new ArgumentException($"PackedWeight: weight has {weight.Length} elements, needs rows·columns = {(long)rows * columns} (rows={rows}, columns={columns}).");
        var isa = Gemm.Isa;
        int nr = isa == GemmIsa.Avx512 ? GemmMicroKernels.Nr512 : GemmMicroKernels.Nr256;
        var packed = new PackedWeight(weight, rows, columns, isa, Gemm.KC, nr);
        packed.Repack();
        return packed;
    }

    /// <summary>Packs <see cref="Source"/> again in place, after its values changed (same shape, same layout).</summary>
    public void Repack()
    {
        int nr = Isa == GemmIsa.Avx512 ? GemmMicroKernels.Nr512 : GemmMicroKernels.Nr256;
        // As Gemm.NT sees W: logical B[k, n] = W[n, k], i.e. row stride 1, column stride Columns. One K block after
        // another, each over the whole width (PrepackedB in Gemm.cs reads this layout). Split by panels over the engine
        // threads, as the products that pack W themselves split it.
        if ((long)Rows * Columns >= 1 << 16)
            EngineThreads.ForRange(Rows, nr, (j0, j1) => Pack(j0, j1, nr));
        else
            Pack(0, Rows, nr);
    }

    private void Pack(int j0, int j1, int nr)
    {
        fixed (float* w = Source)
            for (int pc = 0; pc < Columns; pc += BlockK)
            {
                int kc = Math.Min(BlockK, Columns - pc);
                GemmPacking.PackB(Panels + (nint)pc * PaddedRows + (nint)j0 * kc, w, 1, Columns, pc, kc, j0, j1 - j0, nr);
            }
    }
}
