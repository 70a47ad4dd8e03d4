using System.Text.Encodings.Web;
using System.Text.Json;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Writes a trained byte-level BPE as Hugging Face files, in the layout of Qwen2.5's: tokenizer.json (Split
/// with the Llama 3 pattern then ByteLevel without its own regex, no normalizer, ByteLevel decoder, merges as
/// "left right" strings, which never contain a space in the byte-level alphabet) and tokenizer_config.json
/// (the plain ChatML chat template, eos &lt;|im_end|&gt;, no BOS).
/// </summary>
internal static class BpeFileWriter
{
    /// <summary>ChatML without a default system message: "&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n" per message.</summary>
    public const string ChatTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void Write(string directory, List<string> tokens, List<(int Left, int Right)> merges, IReadOnlyList<string> specials)
    {
        WriteFile(Path.Combine(directory, "tokenizer.json"), w => WriteTokenizer(w, tokens, merges, specials));
        WriteFile(Path.Combine(directory, "tokenizer_config.json"), w => WriteConfig(w, tokens.Count, specials));
    }

    private static void WriteFile(string path, Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, Options)) body(writer);
        stream.WriteByte((byte)'\n');
        File.WriteAllBytes(path, stream.ToArray());
    }

    private static void WriteTokenizer(Utf8JsonWriter w, List<string> tokens, List<(int Left, int Right)> merges, IReadOnlyList<string> specials)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < specials.Count; i++) WriteAddedToken(w, tokens.Count + i, specials[i], withId: true);
        w.WriteEndArray();
        w.WriteNull("normalizer");

        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", LlamaStylePreTokenizer.Llama3Pattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        WriteByteLevel(w, addPrefixSpace: false, trimOffsets: false, useRegex: false);
        w.WriteEndArray();
        w.WriteEndObject();

        w.WritePropertyName("post_processor");
        WriteByteLevel(w, addPrefixSpace: false, trimOffsets: false, useRegex: false);
        w.WritePropertyName("decoder");
        WriteByteLevel(w, addPrefixSpace: false, trimOffsets: false, useRegex: false);

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < tokens.Count; id++) w.WriteNumber(tokens[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges) w.WriteStringValue(tokens[left] + " " + tokens[right]);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, bool addPrefixSpace, bool trimOffsets, bool useRegex)
    {
        w.WriteStartObject();
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteAddedToken(Utf8JsonWriter w, int id, string content, bool withId)
    {
        w.WriteStartObject();
        if (withId) w.WriteNumber("id", id);
        w.WriteString("content", content);
        w.WriteBoolean("single_word", false);
        w.WriteBoolean("lstrip", false);
        w.WriteBoolean("rstrip", false);
        w.WriteBoolean("normalized", false);
        w.WriteBoolean("special", true);
        w.WriteEndObject();
    }

    private static void WriteConfig(Utf8JsonWriter w, int firstSpecialId, IReadOnlyList<string> specials)
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", false);
        w.WriteBoolean("add_prefix_space", false);
        w.WriteStartObject("added_tokens_decoder");
        for (int i = 0; i < specials.Count; i++)
        {
            w.WritePropertyName((firstSpecialId + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
            WriteAddedToken(w, firstSpecialId + i, specials[i], withId: false);
        }
        w.WriteEndObject();
        w.WriteStartArray("additional_special_tokens");
        foreach (var s in specials) if (s is "<|im_start|>" or "<|im_end|>") w.WriteStringValue(s);
        w.WriteEndArray();
        w.WriteNull("bos_token");
        w.WriteString("chat_template", ChatTemplate);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteString("eos_token", "<|im_end|>");
        w.WriteString("errors", "replace");
        if (specials.Contains("<|endoftext|>")) w.WriteString("pad_token", "<|endoftext|>");
        else w.WriteNull("pad_token");
        w.WriteBoolean("split_special_tokens", false);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteNull("unk_token");
        w.WriteEndObject();
    }
}
