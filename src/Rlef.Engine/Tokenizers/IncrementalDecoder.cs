using System.Text;

namespace Rlef.Engine.Tokenizers;

/// <summary>
/// Turns ids into text one id at a time, as a sampler produces them (for streaming and stop strings). A
/// byte-level token may end inside a multi-byte UTF-8 character; those bytes are held until the character
/// completes, so the pieces concatenate to exactly <see cref="ITokenizer.Decode"/> of all ids.
/// </summary>
public sealed class IncrementalDecoder(ITokenizer tokenizer, bool skipSpecialTokens = false)
{
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();

    /// <summary>The text that <paramref name="id"/> completes (possibly empty).</summary>
    public string Append(int id) => Convert(tokenizer.DecodeToBytes([id], skipSpecialTokens), flush: false);

    /// <summary>Ends the stream: bytes of an unfinished character become U+FFFD, as in a full decode.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(byte[] bytes, bool flush)
    {
        var chars = new char[_utf8.GetCharCount(bytes, flush)];
        int n = _utf8.GetChars(bytes, chars, flush);
        return new string(chars, 0, n);
    }
}
