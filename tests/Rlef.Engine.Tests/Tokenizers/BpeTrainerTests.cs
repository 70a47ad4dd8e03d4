using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Rlef.Engine.Tokenizers;
using Rlef.Tests;
using Xunit.Abstractions;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>
/// BpeTrainer: round trips, compression, determinism, the written chat format, and ids against the reference
/// implementation (@huggingface/tokenizers via tests/fixtures/npm/reference.mjs, when its node_modules exist).
/// The corpus is the repository's own C# sources and docs plus inline Python and problem statements (the
/// Engine tests do not reference Rlef.Environment, so generated problems are not available here).
/// </summary>
public sealed class BpeTrainerTests(ITestOutputHelper output)
{

    private const string PythonSample = """
        import sys

        def solve(n: int, values: list[int]) -> int:
            # Sum the even values, then take the remainder modulo 1000000007.
            total = 0
            for i in range(n):
                if values[i] % 2 == 0:
                    total += values[i]
            return total % 1_000_000_007

        def main():
            data = sys.stdin.read().split()
            t = int(data[0])
            out = []
            pos = 1
            for _ in range(t):
                n = int(data[pos]); pos += 1
                values = list(map(int, data[pos:pos + n])); pos += n
                out.append(str(solve(n, values)))
            print("\n".join(out))

        if __name__ == "__main__":
            main()
        """;

    private const string StatementSample = """
        You are given an array of n integers a_1, a_2, ..., a_n. For each query, print the number of indices i
        such that a_i is divisible by k. The first line contains a single integer t (1 <= t <= 10^4), the number
        of test cases. Each test case consists of two lines: the first holds n and k, the second the array.

        Example
        Input
        2
        3 2
        1 2 4
        5 3
        3 6 9 12 1
        Output
        2
        4
        """;

    /// <summary>Texts the round trip must survive: code, prose, unicode (astral too), odd white space, special tokens.</summary>
    public static readonly string[] RoundTripTexts =
    [
        PythonSample,
        StatementSample,
        "The quick brown fox jumps over the lazy dog. It's what they'd've done; we'll see.",
        "naïve café — Ünïcödé: 日本語のテキスト, Ελληνικά, русский текст, עברית, العربية",
        "emoji 🎉🚀 and astral letters 𝐀𝐁𝐂 and digits ١٢٣ and 𝟏𝟐𝟑",
        "   leading spaces\ttabs\t\t\r\nwindows line\r\n\n\n\ntrailing   \n \u00a0nbsp\u2003em space\u3000ideographic",
        "\u0000\u0001\u001f control bytes \u007f del",
        "x=12345678901234567890;y=3.14159e-10;z=0xDEADBEEF",
        "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n",
        "",
        " ",
        "\n",
    ];

    private static readonly Lazy<string> Corpus = new(BuildCorpus);

    /// <summary>About 1 MB of code and prose: the repository's C# sources and Markdown, then the inline samples.</summary>
    private static string BuildCorpus()
    {
        var files = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "src"), "*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f) is ".cs" or ".md")
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")
                        && !f.EndsWith(".g.cs", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        var sb = new StringBuilder();
        foreach (var f in files) sb.Append(File.ReadAllText(f));
        for (int i = 0; i < 50; i++) sb.Append(PythonSample).Append(StatementSample);
        return sb.ToString();
    }

    private static IEnumerable<string> CorpusTexts() => [Corpus.Value];

    private static readonly Lazy<string> Trained1024 = new(() => TrainInto(CorpusTexts(), 1024, "bpe-1024"));

    private static string TrainInto(IEnumerable<string> texts, int vocabSize, string name, IReadOnlyList<string>? specials = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-bpe-test-{System.Environment.ProcessId}-{name}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        // Lazily trained tokenizers are shared between tests, so they go when the test process ends (they used to stay in /tmp).
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(dir, recursive: true); } catch (IOException) { } };
        BpeTrainer.Train(texts, vocabSize, dir, specials);
        return dir;
    }

    private static BpeTokenizer Load(string dir) => (BpeTokenizer)TokenizerLoader.Load(dir).Tokenizer;

    [Fact]
    public void Decode_of_encode_returns_the_text()
    {
        var tokenizer = Load(Trained1024.Value);
        foreach (string text in RoundTripTexts)
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        // Every single byte value, as text (Latin-1 range) and as raw bytes through DecodeToBytes.
        string allChars = new(Enumerable.Range(0, 256).Select(c => (char)c).ToArray());
        Assert.Equal(allChars, tokenizer.Decode(tokenizer.Encode(allChars)));
    }

    [Fact]
    public void Vocabulary_has_the_requested_size_bytes_first_and_special_tokens_last()
    {
        string dir = Trained1024.Value;
        var tokenizer = Load(dir);
        Assert.Equal(1024, tokenizer.VocabSize);
        for (int b = 0; b < 256; b++) Assert.Equal(b, tokenizer.TokenToId(ByteLevelAlphabet.ByteToChar[b].ToString()));
        Assert.Equal(1021, tokenizer.TokenToId("<|endoftext|>"));
        Assert.Equal(1022, tokenizer.TokenToId("<|im_start|>"));
        Assert.Equal(1023, tokenizer.TokenToId("<|im_end|>"));
        Assert.True(tokenizer.IsSpecial(1023));
        Assert.Equal(1023, tokenizer.EosId);
        Assert.Null(tokenizer.BosId);
        Assert.Equal([1022, 1023], tokenizer.Encode("<|im_start|><|im_end|>"));
    }

    [Fact]
    public void Merges_shorten_the_training_text()
    {
        var tokenizer = Load(Trained1024.Value);
        string text = Corpus.Value;
        int bytes = Encoding.UTF8.GetByteCount(text);
        int tokens = tokenizer.Encode(text).Length;
        double ratio = (double)bytes / tokens;
        output.WriteLine($"training text: {bytes} bytes -> {tokens} tokens with vocab 1024: {ratio:F2} bytes/token");
        Assert.True(ratio > 2.5, $"only {ratio:F2} bytes/token on the training text");

        // Held-out text of the same kind compresses too (less than the training text).
        int heldOutBytes = Encoding.UTF8.GetByteCount(RoundTripTexts[2]);
        output.WriteLine($"held-out prose: {(double)heldOutBytes / tokenizer.Encode(RoundTripTexts[2]).Length:F2} bytes/token");
    }

    [Fact]
    public void Same_input_gives_byte_identical_files()
    {
        var texts = new[] { PythonSample, StatementSample, RoundTripTexts[2], RoundTripTexts[3] };
        string a = TrainInto(texts, 400, "det-a"), b = TrainInto(texts, 400, "det-b");
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, file)), File.ReadAllBytes(Path.Combine(b, file)));
        // A different vocabulary size changes the file (the test would pass trivially if nothing were learned).
        string c = TrainInto(texts, 420, "det-c");
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "tokenizer.json")), File.ReadAllBytes(Path.Combine(c, "tokenizer.json")));
    }

    [Fact]
    public void Most_frequent_pair_is_merged_first_and_ties_go_to_the_smaller_strings()
    {
        // Words "ab", " ab" x2, " cd" x2, " ef" x2: a+b occurs 3 times and goes first.
        string dir = TrainInto(["ab ab ab cd cd ef ef"], 256 + 3 + 5, "order");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "tokenizer.json")));
        var merges = doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray();
        // Then four pairs tie at 2; "c" < "e" < "Ġ" (U+0120), and among Ġ+x the right sides decide.
        Assert.Equal(["a b", "c d", "e f", "Ġ ab", "Ġ cd"], merges);
    }

    [Fact]
    public void Special_tokens_in_the_texts_are_never_merged_into_other_tokens()
    {
        var chat = string.Concat(Enumerable.Repeat("<|im_start|>user\nhi<|im_end|>\n", 200));
        string dir = TrainInto([chat], 300, "specials");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "tokenizer.json")));
        var vocab = doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().Select(p => p.Name).ToList();
        Assert.DoesNotContain(vocab, t => t.Contains("im_", StringComparison.Ordinal) || t.Contains("|>", StringComparison.Ordinal));
        Assert.Contains("user", vocab);
    }

    [Fact]
    public void Loader_returns_a_chatml_format_that_renders_the_qwen_layout()
    {
        var loaded = TokenizerLoader.Load(Trained1024.Value);
        var chat = Assert.IsType<ChatMlFormat>(loaded.ChatFormat);
        Assert.Null(chat.DefaultSystem);
        Assert.False(chat.QwenThinking);
        var messages = new List<ChatMessage> { new("system", "Be brief."), new("user", "Solve it."), new("assistant", "print(1)") };
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSolve it.<|im_end|>\n<|im_start|>assistant\nprint(1)<|im_end|>\n<|im_start|>assistant\n",
            chat.Render(messages, addGenerationPrompt: true));
        Assert.Contains(loaded.Tokenizer.TokenToId("<|im_end|>")!.Value, chat.StopIds);
        // Multi-turn continuation appends ids that equal encoding the whole conversation.
        var ids = chat.EncodeChat(messages[..2], addGenerationPrompt: true).ToList();
        ids.AddRange(loaded.Tokenizer.Encode("print(1)"));
        ids.AddRange(chat.EncodeContinuation("Wrong answer.", assistantTurnClosed: false));
        var all = messages.Append(new ChatMessage("user", "Wrong answer.")).ToList();
        Assert.Equal(chat.EncodeChat(all, addGenerationPrompt: true), ids);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_a_reason()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlef-bpe-test-bad");
        var small = Assert.Throws<ArgumentOutOfRangeException>(() => BpeTrainer.Train(["x"], 200, dir));
        Assert.Contains("at least 259", small.Message);
        var missing = Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], 300, dir, ["<|endoftext|>", "<|im_start|>"]));
        Assert.Contains("<|im_end|>", missing.Message);
    }

    [Fact]
    public void Tiny_corpus_stops_when_no_pair_is_left()
    {
        var tokenizer = Load(TrainInto(["aaaa"], 1000, "tiny"));
        // a+a, then aa+aa: two merges, then nothing is left to merge.
        Assert.Equal(256 + 2 + 3, tokenizer.VocabSize);
        Assert.Single(tokenizer.Encode("aaaa"));
        Assert.Equal("aaaaaaa", tokenizer.Decode(tokenizer.Encode("aaaaaaa")));
    }

    [Fact]
    public void Ids_and_chat_rendering_equal_the_reference_implementation()
    {
        if (!ReferenceScript.PackagesInstalled)
        {
            output.WriteLine("skipped: tests/fixtures/npm/node_modules is missing (run `npm ci` in tests/fixtures/npm)");
            return;
        }
        string dir = Trained1024.Value;
        var texts = RoundTripTexts.Where(t => t.Length > 0).Append(Corpus.Value[..200_000]).ToList();
        var chats = new[]
        {
            new { messages = new[] { new { role = "user", content = "Write a function that adds two numbers." } }, add_generation_prompt = true },
            new { messages = new[] { new { role = "system", content = "Be brief." }, new { role = "user", content = PythonSample }, new { role = "assistant", content = "print(1)" } }, add_generation_prompt = false },
        };
        string casesPath = Path.Combine(dir, "cases.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(new { tokenizers = new { trained = new { dir, chats = true } }, texts, chats }));

        JsonDocument reference;
        try
        {
            reference = JsonDocument.Parse(ReferenceScript.Run(casesPath));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            output.WriteLine("skipped: node is not installed");
            return;
        }
        var expected = reference.RootElement.GetProperty("tokenizers").GetProperty("trained");
        var loaded = TokenizerLoader.Load(dir);
        var failures = new List<string>();
        for (int i = 0; i < texts.Count; i++)
        {
            int[] want = expected.GetProperty("encode")[i].EnumerateArray().Select(e => e.GetInt32()).ToArray();
            int[] got = loaded.Tokenizer.Encode(texts[i]);
            if (!want.SequenceEqual(got)) failures.Add($"text #{i}: reference {want.Length} ids, ours {got.Length}, first difference at {FirstDifference(want, got)}");
        }
        for (int i = 0; i < chats.Length; i++)
        {
            string want = expected.GetProperty("chats")[i].GetProperty("text").GetString()!;
            var messages = chats[i].messages.Select(m => new ChatMessage(m.role, m.content)).ToList();
            string got = loaded.ChatFormat!.Render(messages, chats[i].add_generation_prompt);
            if (want != got) failures.Add($"chat #{i}: jinja {JsonSerializer.Serialize(want)} ours {JsonSerializer.Serialize(got)}");
        }
        output.WriteLine($"{texts.Count} texts ({expected.GetProperty("encode")[texts.Count - 1].GetArrayLength()} reference tokens in the largest) and {chats.Length} chats compared, {failures.Count} mismatches");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static int FirstDifference(int[] a, int[] b)
    {
        int i = 0;
        while (i < Math.Min(a.Length, b.Length) && a[i] == b[i]) i++;
        return i;
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(2048)]
    [InlineData(4096)]
    public void Compression_on_code_and_statements_is_reported(int vocabSize)
    {
        var watch = Stopwatch.StartNew();
        string dir = TrainInto(CorpusTexts(), vocabSize, $"size-{vocabSize}");
        double seconds = watch.Elapsed.TotalSeconds;
        var tokenizer = Load(dir);
        string heldOut = PythonSample.Replace("values", "items", StringComparison.Ordinal) + StatementSample.Replace("array", "list", StringComparison.Ordinal);
        double corpusRatio = (double)Encoding.UTF8.GetByteCount(Corpus.Value) / tokenizer.Encode(Corpus.Value).Length;
        double heldOutRatio = (double)Encoding.UTF8.GetByteCount(heldOut) / tokenizer.Encode(heldOut).Length;
        output.WriteLine($"vocab {vocabSize}: {Encoding.UTF8.GetByteCount(Corpus.Value) / 1e6:F2} MB trained in {seconds:F1} s; {corpusRatio:F2} bytes/token on the corpus, {heldOutRatio:F2} on edited samples");
        Assert.Equal(vocabSize, tokenizer.VocabSize);
        Assert.True(corpusRatio > 2.5, $"{corpusRatio:F2} bytes/token");
    }
}
