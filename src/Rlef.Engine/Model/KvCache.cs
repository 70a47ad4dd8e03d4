namespace Rlef.Engine.Model;

/// <summary>
/// Keys and values of every layer for a batch of sequences being decoded, plus the activation buffers a decoding
/// step needs (allocated once). Create with <see cref="LlamaModel.CreateKvCache"/>.
/// Sequences of different prompt lengths are left-padded: sequence b's tokens start at column Start[b], the columns
/// before it are masked out of attention, and its rotary positions count from 0 at Start[b]. So every sequence's
/// next token sits in the same column and one decoding step serves the whole batch.
/// </summary>
public sealed class KvCache
{
    // Default prefill: about this many tokens per forward call, whatever the batch (see ChunkFor).
    internal const int PrefillTokens = 2048;

    /// <param name="chunk">Columns per prefill call; 0: PrefillTokens / the batch of each call.</param>
    internal KvCache(LlamaConfig config, int batch, int capacity, int chunk)
    {
        if (batch <= 0) throw new ArgumentOutOfRangeException(nameof(batch), "batch must be positive.");
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "capacity must be positive.");
        Batch = MaxBatch = batch;
        Capacity = capacity;
        _perCallChunk = chunk <= 0;
        Chunk = Math.Clamp(_perCallChunk ? PrefillTokens / batch : chunk, 1, capacity);
        _kvDim = config.KvDim;
        long perLayer = (long)batch * capacity * config.KvDim;
        if (perLayer > Array.MaxLength) throw new OutOfMemoryException($"A KV cache of {batch} × {capacity} tokens exceeds the largest array.");
        K = new float[config.NumHiddenLayers][];
        V = new float[config.NumHiddenLayers][];
        for (int l = 0; l < K.Length; l++) { K[l] = new float[perLayer]; V[l] = new float[perLayer]; }
        Start = new int[batch];
        Work = new Workspace(config, Math.Max(batch * Chunk, _perCallChunk ? PrefillTokens : 0), training: false, headRows: batch);
    }

    /// <summary>Sequences currently in the cache (≤ <see cref="MaxBatch"/>; shrinks with <see cref="Compact"/>).</summary>
    public int Batch { get; private set; }
    /// <summary>Sequences the cache was allocated for.</summary>
    public int MaxBatch { get; }
    /// <summary>Most columns (padding + prompt + generated) the cache holds.</summary>
    public int Capacity { get; }
    /// <summary>Columns filled so far.</summary>
    public int Length { get; internal set; }
    /// <summary>Most columns one forward call processes (longer prompts are prefilled in chunks of this size).</summary>
    internal int Chunk { get; }
    private readonly bool _perCallChunk;

    /// <summary>
    /// Columns per prefill call for a batch of this many sequences. By default it depends on that batch only, not on the
    /// largest batch the cache was made for: a chunk changes the rows of each product, hence the logits' last bits, so a
    /// cache reused across calls (a generator kept between collections) decodes a batch exactly as a fresh one would.
    /// </summary>
    internal int ChunkFor(int batch) => _perCallChunk ? Math.Clamp(PrefillTokens / batch, 1, Capacity) : Chunk;

    private readonly int _kvDim;
    internal readonly float[][] K, V;  // per layer [B, Capacity, KVD]
    internal readonly int[] Start;      // [B] first real column of each sequence
    internal readonly Workspace Work;

    /// <summary>
    /// Empties the cache for a new batch of startColumns.Length ≤ <see cref="MaxBatch"/> sequences, sequence b beginning
    /// at column startColumns[b] (left padding).
    /// </summary>
    public void Reset(ReadOnlySpan<int> startColumns)
    {
        if (startColumns.Length < 1 || startColumns.Length > MaxBatch)
            throw new ArgumentException($"Expected 1 to {MaxBatch} start columns, got {startColumns.Length}.");
        for (int b = 0; b < startColumns.Length; b++)
            if (startColumns[b] < 0 || startColumns[b] >= Capacity)
                throw new ArgumentOutOfRangeException(nameof(startColumns), $"Start column {startColumns[b]} of sequence {b} is outside [0, {Capacity}).");
        startColumns.CopyTo(Start);
        Batch = startColumns.Length;
        Length = 0;
    }

    /// <summary>
    /// Keeps only the sequences listed (strictly increasing indices), renumbered 0 … keep.Length − 1, so that finished
    /// sequences stop costing compute. Copies the kept rows' filled columns down.
    /// </summary>
    public void Compact(ReadOnlySpan<int> keep)
    {
        for (int i = 0; i < keep.Length; i++)
            if (keep[i] < i || keep[i] >= Batch || (i > 0 && keep[i] <= keep[i - 1]))
                throw new ArgumentException("Compact needs strictly increasing sequence indices within the batch.");
        int kvd = _kvDim;
        for (int i = 0; i < keep.Length; i++)
        {
            int src = keep[i];
            if (src == i) continue;
            for (int l = 0; l < K.Length; l++)
            {
                K[l].AsSpan(src * Capacity * kvd, Length * kvd).CopyTo(K[l].AsSpan(i * Capacity * kvd));
                V[l].AsSpan(src * Capacity * kvd, Length * kvd).CopyTo(V[l].AsSpan(i * Capacity * kvd));
            }
            Start[i] = Start[src];
        }
        Batch = keep.Length;
    }
}
