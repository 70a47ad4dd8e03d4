using System.Collections.Concurrent;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Byte-level BPE: a word's UTF-8 bytes start as one symbol each (their byte-level vocabulary ids), then the
/// adjacent pair with the lowest merge rank is merged until no pair has a rank. A min-heap of candidate
/// pairs over a linked list of symbols makes a word of n bytes cost O(n log n), not O(n²). Results are
/// cached per word, since text repeats its words.
/// </summary>
public sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, int> _pairRank;   // (left id, right id) → rank
    private readonly int[] _mergedId;                   // rank → id of the merged symbol
    private readonly int[] _byteId;                     // byte → id of its single-byte token
    private readonly ConcurrentDictionary<string, int[]> _cache = new();
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private const int MaxCacheEntries = 200_000;
    private int _cacheEntries;

    /// <summary>When true, a word that is itself in the vocabulary becomes that one token without merging (Llama 3).</summary>
    public bool IgnoreMerges { get; }

    public int MergeCount => _mergedId.Length;

    /// <param name="vocab">Token string (byte-level form) → id.</param>
    /// <param name="merges">Merge pairs in rank order (rank = index).</param>
    /// <param name="source">Named in error messages (the tokenizer file).</param>
    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges, string source)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        IgnoreMerges = ignoreMerges;

        _byteId = new int[256];
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteLevelAlphabet.ByteToChar[b].ToString();
            _byteId[b] = vocab.TryGetValue(symbol, out int id) ? id
                : throw new InvalidDataException($"{source}: model.vocab lacks the byte-level token \"{symbol}\" for byte 0x{b:X2}; only byte-level BPE is supported");
        }

        _pairRank = new Dictionary<long, int>(merges.Count, PairComparer.Instance);
        _mergedId = new int[merges.Count];
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int l = Lookup(left, rank), r = Lookup(right, rank), m = Lookup(left + right, rank);
            _pairRank.TryAdd(PairKey(l, r), rank);  // a duplicated merge keeps its first (lowest) rank
            _mergedId[rank] = m;
        }

        int Lookup(string token, int rank) => vocab.TryGetValue(token, out int id) ? id
            : throw new InvalidDataException($"{source}: model.merges[{rank}] (\"{merges[rank].Left} {merges[rank].Right}\") uses \"{token}\", which is not in model.vocab");
    }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long.GetHashCode is left ^ right, which piles the many merges among small ids into few buckets
    /// (a 20x slowdown on cold words); a multiplicative hash spreads them.
    /// </summary>
    private sealed class PairComparer : IEqualityComparer<long>
    {
        public static readonly PairComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> 32);
    }

    /// <summary>Appends the ids of one pre-tokenised word (original text, before byte-level mapping).</summary>
    public void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (_cacheBySpan.TryGetValue(word, out int[]? cached)) { ids.AddRange(cached); return; }
        int[] result = EncodeUncached(word);
        // Our own counter: ConcurrentDictionary.Count takes every lock of the table, costly once per new word.
        if (Interlocked.Increment(ref _cacheEntries) > MaxCacheEntries) { _cache.Clear(); Interlocked.Exchange(ref _cacheEntries, 0); }
        _cacheBySpan.TryAdd(word, result);
        ids.AddRange(result);
    }

    private int[] EncodeUncached(ReadOnlySpan<char> word)
    {
        int maxBytes = System.Text.Encoding.UTF8.GetMaxByteCount(word.Length);
        byte[]? rented = maxBytes > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        Span<byte> bytes = rented ?? stackalloc byte[maxBytes];
        try
        {
            int n = System.Text.Encoding.UTF8.GetBytes(word, bytes);
            bytes = bytes[..n];
            if (IgnoreMerges && TryWholeWord(bytes, out int wholeId)) return [wholeId];
            return Merge(bytes);
        }
        finally
        {
            if (rented != null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private bool TryWholeWord(ReadOnlySpan<byte> bytes, out int id)
    {
        char[]? rented = bytes.Length > 256 ? System.Buffers.ArrayPool<char>.Shared.Rent(bytes.Length) : null;
        Span<char> chars = rented ?? stackalloc char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteLevelAlphabet.ByteToChar[bytes[i]];
        bool found = _vocabBySpan.TryGetValue(chars[..bytes.Length], out id);
        if (rented != null) System.Buffers.ArrayPool<char>.Shared.Return(rented);
        return found;
    }

    /// <summary>Words up to this many bytes merge by rescanning (cheaper than a heap when short).</summary>
    private const int ShortWord = 16;

    /// <summary>Short words: repeatedly merge the lowest-ranked adjacent pair, scanning the few symbols each time.</summary>
    private int[] MergeShort(ReadOnlySpan<byte> bytes)
    {
        Span<int> ids = stackalloc int[ShortWord];
        int n = bytes.Length;
        for (int i = 0; i < n; i++) ids[i] = _byteId[bytes[i]];
        while (n > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < n; i++)
                if (_pairRank.TryGetValue(PairKey(ids[i], ids[i + 1]), out int r) && r < bestRank) { bestRank = r; best = i; }
            if (best < 0) break;
            ids[best] = _mergedId[bestRank];
            ids.Slice(best + 2, n - best - 2).CopyTo(ids[(best + 1)..]);
            n--;
        }
        return ids[..n].ToArray();
    }

    /// <summary>Rank-ordered merging over a doubly linked list of symbols; ties go to the leftmost pair.</summary>
    private int[] Merge(ReadOnlySpan<byte> bytes)
    {
        int n = bytes.Length;
        if (n <= ShortWord) return MergeShort(bytes);
        var id = new int[n];
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++) { id[i] = _byteId[bytes[i]]; prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }

        // Heap entries: priority = (rank, left position); stale entries are skipped when popped.
        var heap = new PriorityQueue<int, long>(n);
        for (int i = 0; i + 1 < n; i++) PushPair(i);

        int alive = n;
        while (heap.TryDequeue(out int left, out long priority))
        {
            int rank = (int)(priority >> 32);
            int right = next[left];
            if (id[left] < 0 || right < 0 || !_pairRank.TryGetValue(PairKey(id[left], id[right]), out int current) || current != rank)
                continue;
            id[left] = _mergedId[rank];
            id[right] = -1;
            next[left] = next[right];
            if (next[right] >= 0) prev[next[right]] = left;
            alive--;
            if (prev[left] >= 0) PushPair(prev[left]);
            PushPair(left);
        }

        var result = new int[alive];
        for (int i = 0, k = 0; i >= 0 && k < alive; i = next[i]) result[k++] = id[i];
        return result;

        void PushPair(int leftPos)
        {
            int r = next[leftPos];
            if (r >= 0 && _pairRank.TryGetValue(PairKey(id[leftPos], id[r]), out int pairRank))
                heap.Enqueue(leftPos, ((long)pairRank << 32) | (uint)leftPos);
        }
    }
}
