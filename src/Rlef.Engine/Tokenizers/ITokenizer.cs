namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Text ↔ token ids. Implemented by <see cref="BpeTokenizer"/> (Hugging Face byte-level BPE) and
/// <see cref="ByteTokenizer"/> (raw UTF-8 bytes for models trained from scratch), so the engine and the
/// trainer never care which one they hold. Implementations are safe to call from several threads.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of ids the model's embedding must cover (largest id + 1).</summary>
    int VocabSize { get; }

    /// <summary>Beginning-of-sequence id, if the tokenizer defines one.</summary>
    int? BosId { get; }

    /// <summary>End-of-sequence id (the end of a whole text, not of a chat turn), if defined.</summary>
    int? EosId { get; }

    /// <summary>
    /// Encodes text. Special-token strings that occur in the text (e.g. "&lt;|eot_id|&gt;") become their ids,
    /// as Hugging Face tokenizers do; no BOS/EOS is added.
    /// </summary>
    int[] Encode(string text);

    /// <summary>Decodes ids to UTF-8 bytes (a prefix of a sequence may end inside a multi-byte character).</summary>
    byte[] DecodeToBytes(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);

    /// <summary>Decodes ids to text; invalid UTF-8 becomes U+FFFD.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);

    /// <summary>The id of a token given by its vocabulary string (special tokens by their content), or null.</summary>
    int? TokenToId(string token);

    /// <summary>The vocabulary string of an id (byte-level form for BPE tokens).</summary>
    string IdToToken(int id);

    /// <summary>True for control tokens (BOS, EOS, chat markers) that decoding may skip.</summary>
    bool IsSpecial(int id);
}
