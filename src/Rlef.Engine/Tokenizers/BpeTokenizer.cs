using System.Text;
using System.Text.Json;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// A Hugging Face tokenizer.json byte-level BPE tokenizer (Llama 3, Qwen2/2.5/3, GPT-2, SmolLM):
/// added tokens are split out first, the rest is normalised (NFC where the file says so), pre-tokenised
/// by the file's split pattern, byte-level mapped and merged by rank. Load with <see cref="Load"/>.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    private readonly BpeModel _model;
    private readonly PreTokenizer _preTokenizer;
    private readonly bool _nfc;
    private readonly bool _addPrefixSpace;
    private readonly AddedTokenMatcher _addedMatcher;
    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _idToToken;
    private readonly AddedToken?[] _addedById;
    private readonly Dictionary<string, int> _addedByContent = new(StringComparer.Ordinal);
    private readonly int[] _prefixIds, _suffixIds;

    public int VocabSize => _idToToken.Length;
    public int? BosId { get; }
    public int? EosId { get; }
    public IReadOnlyList<AddedToken> AddedTokens { get; }
    public PreTokenizer PreTokenizer => _preTokenizer;

    private BpeTokenizer(BpeModel model, PreTokenizer preTokenizer, bool nfc, bool addPrefixSpace, Dictionary<string, int> vocab,
        IReadOnlyList<AddedToken> added, int[] prefixIds, int[] suffixIds, int? bosId, int? eosId)
    {
        _model = model;
        _preTokenizer = preTokenizer;
        _nfc = nfc;
        _addPrefixSpace = addPrefixSpace;
        _vocab = vocab;
        AddedTokens = added;
        _addedMatcher = new AddedTokenMatcher(added);
        _prefixIds = prefixIds;
        _suffixIds = suffixIds;
        BosId = bosId;
        EosId = eosId;

        int size = 0;
        foreach (int id in vocab.Values) size = Math.Max(size, id + 1);
        foreach (var t in added) size = Math.Max(size, t.Id + 1);
        _idToToken = new string[size];
        _addedById = new AddedToken?[size];
        foreach (var (token, id) in vocab) _idToToken[id] = token;
        foreach (var t in added) { _idToToken[t.Id] = t.Content; _addedById[t.Id] = t; _addedByContent.TryAdd(t.Content, t.Id); }
    }

    public int[] Encode(string text) => Encode(text, addSpecialTokens: false);

    /// <summary>
    /// Encodes text; with <paramref name="addSpecialTokens"/> the post-processor's template is applied
    /// (Llama 3 puts &lt;|begin_of_text|&gt; first; Qwen adds nothing), as HF's encode does by default.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefixIds);

        var segments = new List<Segment>();
        _addedMatcher.Split(text, segments);
        var pieces = new List<TextPiece>();
        foreach (var seg in segments)
        {
            if (seg.Token != null) { ids.Add(seg.Token.Id); continue; }
            string part = text.Substring(seg.Start, seg.Length);
            if (_nfc) part = Nfc.Normalize(part);
            if (_addPrefixSpace && !part.StartsWith(' ')) part = " " + part;
            pieces.Clear();
            _preTokenizer.Split(part, 0, pieces);
            foreach (var p in pieces) _model.EncodeWord(part.AsSpan(p.Start, p.Length), ids);
        }

        if (addSpecialTokens) ids.AddRange(_suffixIds);
        return ids.ToArray();
    }

    public byte[] DecodeToBytes(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_idToToken.Length || _idToToken[id] == null)
                throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is not in the vocabulary (size {VocabSize})");
            if (_addedById[id] is { } added)
            {
                // Added tokens are stored as plain text, not in the byte-level alphabet.
                if (!(skipSpecialTokens && added.Special)) bytes.AddRange(Encoding.UTF8.GetBytes(added.Content));
                continue;
            }
            foreach (char c in _idToToken[id])
            {
                int b = ByteLevelAlphabet.CharToByte(c);
                if (b >= 0) bytes.Add((byte)b);
                else bytes.AddRange(utf8[..new Rune(c).EncodeToUtf8(utf8)]);
            }
        }
        return bytes.ToArray();
    }

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false) =>
        Encoding.UTF8.GetString(DecodeToBytes(ids, skipSpecialTokens));

    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out int added) ? added : _vocab.TryGetValue(token, out int id) ? id : null;

    public string IdToToken(int id) =>
        (uint)id < (uint)_idToToken.Length && _idToToken[id] != null ? _idToToken[id] : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is not in the vocabulary");

    public bool IsSpecial(int id) => (uint)id < (uint)_addedById.Length && _addedById[id] is { Special: true };

    /// <summary>
    /// Loads a tokenizer.json file, or a directory holding one. A tokenizer_config.json beside it supplies
    /// bos_token and eos_token; without it BOS comes from the post-processor's template and EOS is unset.
    /// </summary>
    public static BpeTokenizer Load(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"tokenizer file not found: {file}", file);
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "tokenizer_config.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { MaxDepth = 256 });
        using var configDoc = File.Exists(config) ? JsonDocument.Parse(File.ReadAllBytes(config)) : null;
        try
        {
            return FromJson(doc.RootElement, configDoc?.RootElement, file);
        }
        catch (KeyNotFoundException e)
        {
            throw new InvalidDataException($"{file}: missing field ({e.Message})", e);
        }
    }

    private static BpeTokenizer FromJson(JsonElement root, JsonElement? config, string source)
    {
        var model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() ?? "" : "BPE";
        if (modelType != "BPE") throw new NotSupportedException($"{source}: model.type is \"{modelType}\"; only BPE is supported");
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
            throw new NotSupportedException($"{source}: model.byte_fallback=true (SentencePiece-style BPE) is not supported; only byte-level BPE");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(affix, out var a) && a.ValueKind == JsonValueKind.String && a.GetString()!.Length > 0)
                throw new NotSupportedException($"{source}: model.{affix} is set; byte-level BPE files leave it empty");

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) vocab[entry.Name] = entry.Value.GetInt32();

        var merges = new List<(string, string)>();
        int index = 0;
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            // Two formats: "left right" (older files) or ["left", "right"] (tokenizers ≥ 0.20, allows spaces in tokens).
            if (m.ValueKind == JsonValueKind.String)
            {
                string s = m.GetString()!;
                int space = s.IndexOf(' ', 1);
                if (space < 0) throw new InvalidDataException($"{source}: model.merges[{index}] \"{s}\" is not \"left right\"");
                merges.Add((s[..space], s[(space + 1)..]));
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
                merges.Add((m[0].GetString()!, m[1].GetString()!));
            else
                throw new InvalidDataException($"{source}: model.merges[{index}] is neither \"left right\" nor [left, right]");
            index++;
        }
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
        var bpe = new BpeModel(vocab, merges, ignoreMerges, source);

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
            foreach (var t in at.EnumerateArray())
                added.Add(new AddedToken(t.GetProperty("id").GetInt32(), t.GetProperty("content").GetString()!,
                    Flag(t, "special"), Flag(t, "lstrip"), Flag(t, "rstrip"), Flag(t, "single_word"), Flag(t, "normalized")));

        bool nfc = ParseNormalizer(root.TryGetProperty("normalizer", out var n) ? n : default, source, "normalizer");
        bool addPrefixSpace = false;
        var pre = root.TryGetProperty("pre_tokenizer", out var p) && p.ValueKind == JsonValueKind.Object
            ? ParsePreTokenizer(p, source, "pre_tokenizer", ref addPrefixSpace)
            : new WholeTextPreTokenizer();

        var prefix = new List<int>();
        var suffix = new List<int>();
        if (root.TryGetProperty("post_processor", out var post) && post.ValueKind == JsonValueKind.Object)
            ParsePostProcessor(post, prefix, suffix, source);

        int? bos = SpecialFromConfig(config, "bos_token", vocab, added) ?? (prefix.Count > 0 ? prefix[0] : null);
        int? eos = SpecialFromConfig(config, "eos_token", vocab, added);
        return new BpeTokenizer(bpe, pre, nfc, addPrefixSpace, vocab, added, prefix.ToArray(), suffix.ToArray(), bos, eos);
    }

    private static bool Flag(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string TypeOf(JsonElement e, string source, string field) =>
        e.TryGetProperty("type", out var t) ? t.GetString() ?? "" : throw new InvalidDataException($"{source}: {field} has no \"type\"");

    /// <summary>Returns whether NFC applies; other normalizers are rejected rather than silently ignored.</summary>
    private static bool ParseNormalizer(JsonElement e, string source, string field)
    {
        if (e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null) return false;
        string type = TypeOf(e, source, field);
        if (type == "NFC") return true;
        if (type == "Sequence")
        {
            bool nfc = false;
            int i = 0;
            foreach (var s in e.GetProperty("normalizers").EnumerateArray()) nfc |= ParseNormalizer(s, source, $"{field}.normalizers[{i++}]");
            return nfc;
        }
        throw new NotSupportedException($"{source}: {field}.type \"{type}\" is not supported (supported: NFC, Sequence)");
    }

    private static PreTokenizer ParsePreTokenizer(JsonElement e, string source, string field, ref bool addPrefixSpace)
    {
        string type = TypeOf(e, source, field);
        switch (type)
        {
            case "Sequence":
                var steps = new List<PreTokenizer>();
                int i = 0;
                foreach (var s in e.GetProperty("pretokenizers").EnumerateArray())
                    steps.Add(ParsePreTokenizer(s, source, $"{field}.pretokenizers[{i++}]", ref addPrefixSpace));
                steps.RemoveAll(s => s is WholeTextPreTokenizer);
                return steps.Count == 1 ? steps[0] : new SequencePreTokenizer(steps);
            case "Split":
                string behavior = e.TryGetProperty("behavior", out var b) ? b.GetString() ?? "" : "";
                if (behavior != "Isolated" || Flag(e, "invert"))
                    throw new NotSupportedException($"{source}: {field} Split behavior \"{behavior}\" (invert={Flag(e, "invert")}) is not supported; only Isolated");
                var pattern = e.GetProperty("pattern");
                if (pattern.TryGetProperty("Regex", out var rx)) return SplitterFor(rx.GetString()!, source, field);
                if (pattern.TryGetProperty("String", out var str))
                    return new RegexPreTokenizer(System.Text.RegularExpressions.Regex.Escape(str.GetString()!));
                throw new InvalidDataException($"{source}: {field}.pattern has neither Regex nor String");
            case "ByteLevel":
                addPrefixSpace |= Flag(e, "add_prefix_space");
                // use_regex defaults to true in HF: then ByteLevel itself splits with GPT-2's pattern.
                bool useRegex = !e.TryGetProperty("use_regex", out var ur) || ur.ValueKind == JsonValueKind.True;
                return useRegex ? new Gpt2PreTokenizer() : new WholeTextPreTokenizer();
            case "Digits":
                return new DigitsPreTokenizer(Flag(e, "individual_digits"));
            default:
                throw new NotSupportedException($"{source}: {field}.type \"{type}\" is not supported (supported: Sequence, Split, ByteLevel, Digits)");
        }
    }

    private static PreTokenizer SplitterFor(string pattern, string source, string field) => pattern switch
    {
        LlamaStylePreTokenizer.Llama3Pattern => new LlamaStylePreTokenizer(3),
        LlamaStylePreTokenizer.QwenPattern => new LlamaStylePreTokenizer(1),
        Gpt2PreTokenizer.Pattern => new Gpt2PreTokenizer(),
        _ => TryRegex(pattern, source, field),
    };

    private static PreTokenizer TryRegex(string pattern, string source, string field)
    {
        try { return new RegexPreTokenizer(pattern); }
        catch (ArgumentException e) { throw new NotSupportedException($"{source}: {field}.pattern.Regex cannot be translated to .NET: {e.Message}", e); }
    }

    private static void ParsePostProcessor(JsonElement e, List<int> prefix, List<int> suffix, string source)
    {
        string type = TypeOf(e, source, "post_processor");
        if (type == "Sequence")
        {
            foreach (var p in e.GetProperty("processors").EnumerateArray()) ParsePostProcessor(p, prefix, suffix, source);
            return;
        }
        if (type != "TemplateProcessing") return;  // ByteLevel post-processing changes offsets only, not ids.
        var specials = e.GetProperty("special_tokens");
        bool seenSequence = false;
        foreach (var item in e.GetProperty("single").EnumerateArray())
        {
            if (item.TryGetProperty("Sequence", out _)) { seenSequence = true; continue; }
            string name = item.GetProperty("SpecialToken").GetProperty("id").GetString()!;
            foreach (var id in specials.GetProperty(name).GetProperty("ids").EnumerateArray())
                (seenSequence ? suffix : prefix).Add(id.GetInt32());
        }
    }

    private static int? SpecialFromConfig(JsonElement? config, string name, Dictionary<string, int> vocab, List<AddedToken> added)
    {
        if (config is not { } c || !c.TryGetProperty(name, out var v)) return null;
        string? content = v.ValueKind == JsonValueKind.String ? v.GetString()
            : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var ct) ? ct.GetString() : null;
        if (content == null) return null;
        foreach (var t in added) if (t.Content == content) return t.Id;
        return vocab.TryGetValue(content, out int id) ? id : null;
    }
}
