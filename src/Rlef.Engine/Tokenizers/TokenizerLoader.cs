namespace Rlef.Engine.Tokenizers;

/// <summary>A tokenizer and, where known, its chat format.</summary>
public sealed record LoadedTokenizer(ITokenizer Tokenizer, IChatFormat? ChatFormat);

public static class TokenizerLoader
{
    /// <summary>
    /// <paramref name="spec"/> is "byte" (the byte-level tokenizer and its chat format), a tokenizer.json
    /// file, or a model directory holding tokenizer.json; a tokenizer_config.json beside it supplies the chat
    /// template (and BOS/EOS).
    /// </summary>
    public static LoadedTokenizer Load(string spec)
    {
        if (spec == "byte")
        {
            var bytes = new ByteTokenizer();
            return new LoadedTokenizer(bytes, new ByteChatFormat(bytes));
        }
        string file = Directory.Exists(spec) ? Path.Combine(spec, "tokenizer.json") : spec;
        if (!File.Exists(file))
            throw new FileNotFoundException($"tokenizer not found: \"{spec}\" is neither \"byte\", a tokenizer.json file, nor a directory holding tokenizer.json", file);
        var tokenizer = BpeTokenizer.Load(file);
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "tokenizer_config.json");
        IChatFormat? chat = File.Exists(config) && HasChatTemplate(config) ? ChatFormats.FromTokenizerConfig(tokenizer, config) : null;
        return new LoadedTokenizer(tokenizer, chat);
    }

    private static bool HasChatTemplate(string config)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(config));
        return doc.RootElement.TryGetProperty("chat_template", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.String;
    }
}
