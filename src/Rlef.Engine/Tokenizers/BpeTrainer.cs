using System.Text;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Learns a byte-level BPE tokenizer of the Llama 3 / Qwen family from texts and writes it as tokenizer.json
/// + tokenizer_config.json (ChatML chat template), which <see cref="TokenizerLoader.Load"/> reads back.
/// Vocabulary: the 256 byte symbols (ids 0-255, in byte order, so any text encodes), then one token per
/// learned merge, then the added special tokens. Output is a pure function of the input texts and arguments.
/// </summary>
public static class BpeTrainer
{
    /// <summary>The special tokens written when the caller gives none: end of text, then ChatML's two markers.</summary>
    public static readonly IReadOnlyList<string> DefaultSpecialTokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    /// <summary>
    /// Learns merges on <paramref name="texts"/> and writes tokenizer.json and tokenizer_config.json into
    /// <paramref name="directory"/> (created if missing). <paramref name="vocabSize"/> counts everything: 256 byte
    /// symbols + merged tokens + special tokens; training stops early (a smaller vocabulary) only when no
    /// adjacent pair is left to merge. <paramref name="specialTokens"/> are the added special tokens in id order
    /// (default <see cref="DefaultSpecialTokens"/>); they must include &lt;|im_start|&gt; and &lt;|im_end|&gt;,
    /// which the chat template uses. Special-token strings inside the texts are cut out before counting.
    /// </summary>
    public static void Train(IEnumerable<string> texts, int vocabSize, string directory, IReadOnlyList<string>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var specials = specialTokens ?? DefaultSpecialTokens;
        foreach (var required in new[] { "<|im_start|>", "<|im_end|>" })
            if (!specials.Contains(required))
                throw new ArgumentException($"specialTokens must include {required}: the ChatML chat template written to tokenizer_config.json uses it", nameof(specialTokens));
        if (specials.Any(string.IsNullOrEmpty) || specials.Distinct(StringComparer.Ordinal).Count() != specials.Count)
            throw new ArgumentException("specialTokens must be distinct non-empty strings", nameof(specialTokens));
        int minimum = 256 + specials.Count;
        if (vocabSize < minimum)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"vocabSize must be at least {minimum} (256 byte symbols + {specials.Count} special tokens)");

        var words = BpeWordCounter.Count(texts, specials);
        var (tokens, merges) = BpeMergeLearner.Learn(words, vocabSize - specials.Count);

        Directory.CreateDirectory(directory);
        BpeFileWriter.Write(directory, tokens, merges, specials);
    }
}

/// <summary>Distinct pre-tokenised words of the training texts with their frequencies, in first-seen order.</summary>
internal sealed class BpeWordCounts
{
    public readonly List<string> Words = [];
    public readonly List<long> Frequencies = [];
}

internal static class BpeWordCounter
{
    /// <summary>The split pattern written to tokenizer.json and used here (Llama 3's: digits in runs of up to 3).</summary>
    public static readonly LlamaStylePreTokenizer PreTokenizer = new(3);

    public static BpeWordCounts Count(IEnumerable<string> texts, IReadOnlyList<string> specials)
    {
        // The encoder cuts added tokens out before pre-tokenising, so training must too: no merge may span one.
        var matcher = new AddedTokenMatcher(specials.Select((s, i) => new AddedToken(i, s, Special: true)));
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var lookup = index.GetAlternateLookup<ReadOnlySpan<char>>();
        var counts = new BpeWordCounts();
        var segments = new List<Segment>();
        var pieces = new List<TextPiece>();
        foreach (string text in texts)
        {
            if (text == null) throw new ArgumentException("texts contains a null string", nameof(texts));
            segments.Clear();
            matcher.Split(text, segments);
            foreach (var seg in segments)
            {
                if (seg.Token != null) continue;
                pieces.Clear();
                PreTokenizer.Split(text.AsSpan(seg.Start, seg.Length), seg.Start, pieces);
                foreach (var p in pieces)
                {
                    var word = text.AsSpan(p.Start, p.Length);
                    if (lookup.TryGetValue(word, out int i)) { counts.Frequencies[i]++; continue; }
                    lookup[word] = counts.Words.Count;
                    counts.Words.Add(word.ToString());
                    counts.Frequencies.Add(1);
                }
            }
        }
        return counts;
    }
}

/// <summary>
/// The merge loop: repeatedly merge the most frequent adjacent pair over all words (weighted by frequency).
/// Pair counts are kept up to date incrementally: a merge rewrites only the words that hold the pair (found
/// through a pair → words index) and adjusts the counts of the pairs in those words. A max-heap orders pairs
/// by (count desc, left token string, right token string — ordinal), which makes ties deterministic; its
/// entries go stale as counts drop and are refreshed when popped (a pair's count never rises after the
/// merge that created it, so a popped entry whose count is current is the true maximum).
/// </summary>
internal static class BpeMergeLearner
{
    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
    private static int Left(long key) => (int)(key >> 32);
    private static int Right(long key) => (int)key;

    /// <summary>Multiplicative hash: long's own (left ^ right) collides badly on small ids.</summary>
    private sealed class PairHash : IEqualityComparer<long>
    {
        public static readonly PairHash Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> 32);
    }

    private sealed class HeapOrder(List<string> tokens) : IComparer<(long Count, long Pair)>
    {
        public int Compare((long Count, long Pair) a, (long Count, long Pair) b)
        {
            if (a.Count != b.Count) return b.Count.CompareTo(a.Count);  // more frequent first
            int c = string.CompareOrdinal(tokens[Left(a.Pair)], tokens[Left(b.Pair)]);
            return c != 0 ? c : string.CompareOrdinal(tokens[Right(a.Pair)], tokens[Right(b.Pair)]);
        }
    }

    /// <summary>
    /// Returns the token strings (byte-level form; index = id) and the merges (as id pairs, in rank order),
    /// growing the vocabulary to <paramref name="targetTokens"/> or until no pair is left.
    /// </summary>
    public static (List<string> Tokens, List<(int Left, int Right)> Merges) Learn(BpeWordCounts counts, int targetTokens)
    {
        var tokens = new List<string>(targetTokens);
        var tokenIds = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int b = 0; b < 256; b++) { tokens.Add(ByteLevelAlphabet.ByteToChar[b].ToString()); tokenIds[tokens[b]] = b; }

        int n = counts.Words.Count;
        var words = new int[n][];
        var freq = counts.Frequencies.ToArray();
        var pairCount = new Dictionary<long, long>(PairHash.Instance);
        var pairWords = new Dictionary<long, List<int>>(PairHash.Instance);
        for (int w = 0; w < n; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(counts.Words[w]);
            words[w] = Array.ConvertAll(bytes, b => (int)b);
            for (int i = 0; i + 1 < bytes.Length; i++) AddPair(Key(bytes[i], bytes[i + 1]), freq[w], w);
        }

        var heap = new PriorityQueue<long, (long, long)>(new HeapOrder(tokens));
        foreach (var (pair, c) in pairCount) heap.Enqueue(pair, (c, pair));

        var merges = new List<(int, int)>();
        var delta = new Dictionary<long, long>(PairHash.Instance);
        var visited = new int[n];  // merge number that last rewrote each word (a word is listed once per occurrence of a pair)
        var rewritten = new List<int>(64);
        while (tokens.Count < targetTokens && heap.TryDequeue(out long best, out var entry))
        {
            long current = pairCount.GetValueOrDefault(best);
            if (current != entry.Item1)
            {
                if (current > 0) heap.Enqueue(best, (current, best));  // stale: requeue with the true count
                continue;
            }
            int left = Left(best), right = Right(best);
            string merged = tokens[left] + tokens[right];
            if (!tokenIds.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                tokenIds[merged] = newId;
            }
            merges.Add((left, right));
            int stamp = merges.Count;

            delta.Clear();
            foreach (int w in pairWords[best])
            {
                if (visited[w] == stamp) continue;
                visited[w] = stamp;
                int[] old = words[w];
                long f = freq[w];
                rewritten.Clear();
                for (int i = 0; i < old.Length; i++)
                {
                    if (i + 1 < old.Length && old[i] == left && old[i + 1] == right) { rewritten.Add(newId); i++; }
                    else rewritten.Add(old[i]);
                }
                if (rewritten.Count == old.Length) continue;
                for (int i = 0; i + 1 < old.Length; i++) Add(delta, Key(old[i], old[i + 1]), -f);
                for (int i = 0; i + 1 < rewritten.Count; i++)
                {
                    long pair = Key(rewritten[i], rewritten[i + 1]);
                    Add(delta, pair, f);
                    if (rewritten[i] == newId || rewritten[i + 1] == newId) ListWord(pair, w);
                }
                words[w] = rewritten.ToArray();
            }
            foreach (var (pair, d) in delta)
            {
                if (d == 0) continue;
                long updated = pairCount.GetValueOrDefault(pair) + d;
                if (updated > 0) pairCount[pair] = updated;
                else { pairCount.Remove(pair); pairWords.Remove(pair); }
                if (d > 0) heap.Enqueue(pair, (updated, pair));
            }
        }
        return (tokens, merges);

        void AddPair(long pair, long f, int w)
        {
            Add(pairCount, pair, f);
            ListWord(pair, w);
        }

        void ListWord(long pair, int w)
        {
            if (!pairWords.TryGetValue(pair, out var list)) pairWords[pair] = list = [];
            if (list.Count == 0 || list[^1] != w) list.Add(w);
        }

        static void Add(Dictionary<long, long> map, long key, long value) =>
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, key, out _) += value;
    }
}
