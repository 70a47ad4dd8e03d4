using System.Text.Json;
using Rlef.Engine.Tokenizers;
using Rlef.Tests;
using Xunit.Abstractions;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>
/// Ids, decoded text and chat prompts against the reference implementations (@huggingface/tokenizers and
/// @huggingface/jinja, run by tests/fixtures/npm/reference.mjs) on the inputs of
/// tests/fixtures/tokenizers/cases.json. The reference runs live under node when tests/fixtures/npm has its
/// node_modules (`npm ci` there); otherwise the committed golden.json (the same script's output) stands in.
/// The real Llama 3.1 and Qwen3 files come from those npm packages; the two small tokenizers cut from them
/// are committed, so the golden comparison asserts something even without node_modules. Live runs also
/// encode the repository's own sources whole (a large code and prose text) with both real tokenizers.
/// </summary>
public sealed class ReferenceParityTests(ITestOutputHelper output)
{
    private static readonly string NpmDir = ReferenceScript.NpmDir;
    private static readonly string CasesPath = Path.Combine(RepoPaths.Root, "tests", "fixtures", "tokenizers", "cases.json");
    private static readonly string GoldenPath = Path.Combine(RepoPaths.Root, "tests", "fixtures", "tokenizers", "golden.json");
    private static readonly Lazy<(JsonDocument Doc, string Source)> Expected = new(LoadExpected);

    private static (JsonDocument, string) LoadExpected()
    {
        if (ReferenceScript.PackagesInstalled)
        {
            try
            {
                return (JsonDocument.Parse(ReferenceScript.Run(CasesPath, WriteCorpus())), "live: node tests/fixtures/npm/reference.mjs");
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // node is not installed: fall back to the golden file.
            }
        }
        return (JsonDocument.Parse(File.ReadAllBytes(GoldenPath)), "committed tests/fixtures/tokenizers/golden.json");
    }

    private static readonly string CorpusPath = Path.Combine(AppContext.BaseDirectory, "tokenizer-corpus.txt");

    /// <summary>The repository's own sources and docs, concatenated: a large mixed code/prose text for live runs.</summary>
    private static string WriteCorpus()
    {
        var files = new[] { "src", "tests" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, d), "*", SearchOption.AllDirectories))
            .Where(f => Path.GetExtension(f) is ".cs" or ".md" or ".py" or ".mjs" or ".jinja" or ".csproj")
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                        && !f.Contains("node_modules") && !f.EndsWith(".g.cs", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        File.WriteAllText(CorpusPath, string.Concat(files.Select(File.ReadAllText)));
        return CorpusPath;
    }

    private static JsonElement Cases => JsonDocument.Parse(File.ReadAllBytes(CasesPath)).RootElement;

    private static string TokenizerDir(string key) =>
        Path.GetFullPath(Path.Combine(NpmDir, Cases.GetProperty("tokenizers").GetProperty(key).GetProperty("dir").GetString()!));

    [Theory]
    [InlineData("llama3_1")]
    [InlineData("qwen3")]
    [InlineData("tiny_llama3")]
    [InlineData("tiny_qwen3")]
    public void Ids_and_decoding_equal_the_reference(string key)
    {
        string dir = TokenizerDir(key);
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
        {
            output.WriteLine($"skipped: {dir}/tokenizer.json not found (run `npm ci` in tests/fixtures/npm)");
            return;
        }
        var (doc, source) = Expected.Value;
        output.WriteLine($"reference: {source}");
        var expected = doc.RootElement.GetProperty("tokenizers").GetProperty(key);
        var tokenizer = TestTokenizers.Bpe(dir);

        var texts = Cases.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToList();
        if (Cases.GetProperty("tokenizers").GetProperty(key).TryGetProperty("extra_texts", out var extra))
            texts.AddRange(extra.EnumerateArray().Select(t => t.GetString()!));

        var failures = new List<string>();
        for (int i = 0; i < texts.Count; i++)
        {
            int[] want = Ints(expected.GetProperty("encode")[i]);
            int[] got = tokenizer.Encode(texts[i]);
            if (!want.SequenceEqual(got)) failures.Add($"encode #{i} {Show(texts[i])}:\n  want [{string.Join(",", want)}]\n  got  [{string.Join(",", got)}]");

            int[] wantSpecial = Ints(expected.GetProperty("encode_with_special")[i]);
            int[] gotSpecial = tokenizer.Encode(texts[i], addSpecialTokens: true);
            if (!wantSpecial.SequenceEqual(gotSpecial)) failures.Add($"encode with special tokens #{i} {Show(texts[i])}");

            string wantText = expected.GetProperty("decode_skip_special")[i].GetString()!;
            string gotText = tokenizer.Decode(got, skipSpecialTokens: true);
            if (wantText != gotText) failures.Add($"decode #{i}: want {Show(wantText)} got {Show(gotText)}");
        }
        if (expected.TryGetProperty("corpus", out var corpus))
        {
            int[] want = Ints(corpus);
            int[] got = tokenizer.Encode(File.ReadAllText(CorpusPath));
            int first = 0;
            while (first < Math.Min(want.Length, got.Length) && want[first] == got[first]) first++;
            if (first < want.Length || first < got.Length)
                failures.Add($"corpus ({want.Length} reference tokens, {got.Length} ours): first difference at token {first}");
            output.WriteLine($"corpus of the repository's sources: {want.Length} tokens compared");
        }
        output.WriteLine($"{texts.Count} texts compared, {failures.Count} mismatches");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
    }

    [Theory]
    [InlineData("llama3_1")]
    [InlineData("qwen3")]
    public void Chat_prompts_equal_the_reference_jinja_rendering(string key)
    {
        string dir = TokenizerDir(key);
        if (!File.Exists(Path.Combine(dir, "tokenizer_config.json")))
        {
            output.WriteLine($"skipped: {dir}/tokenizer_config.json not found (run `npm ci` in tests/fixtures/npm)");
            return;
        }
        var (doc, source) = Expected.Value;
        output.WriteLine($"reference: {source}");
        var expected = doc.RootElement.GetProperty("tokenizers").GetProperty(key).GetProperty("chats");
        var tokenizer = TestTokenizers.Bpe(dir);
        string config = Path.Combine(dir, "tokenizer_config.json");

        int compared = 0;
        var chats = Cases.GetProperty("chats");
        for (int i = 0; i < chats.GetArrayLength(); i++)
        {
            var chat = chats[i];
            if (expected[i].ValueKind == JsonValueKind.Null) continue;
            string? template = chat.TryGetProperty("template", out var tp) ? File.ReadAllText(Path.Combine(NpmDir, tp.GetString()!)) : null;
            var format = ChatFormats.FromTokenizerConfig(tokenizer, config, template);
            if (chat.TryGetProperty("variables", out var vars) && vars.TryGetProperty("date_string", out var date))
                format = new Llama3ChatFormat(tokenizer, Llama3Variant.Llama31, dateString: date.GetString()!);
            var messages = chat.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
            bool generation = chat.GetProperty("add_generation_prompt").GetBoolean();

            Assert.Equal(expected[i].GetProperty("text").GetString(), format.Render(messages, generation));
            Assert.Equal(Ints(expected[i].GetProperty("ids")), format.EncodeChat(messages, generation));
            compared++;
        }
        output.WriteLine($"{compared} chats compared");
        Assert.True(compared >= 7);
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    private static string Show(string s) => JsonSerializer.Serialize(s.Length > 80 ? s[..80] + "…" : s);
}
