using Rlef.Engine.Tokenizers;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>
/// The hand-written split scanners against the regex semantics they replace. Expected pieces are worked out
/// from the pattern by hand; the ASCII cases are also cross-checked against .NET's Regex running the same
/// pattern (which is exact when no astral characters occur).
/// </summary>
public sealed class PreTokenizerTests
{
    private static readonly PreTokenizer Llama3 = new LlamaStylePreTokenizer(3);
    private static readonly PreTokenizer Qwen = new LlamaStylePreTokenizer(1);

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("12345678", new[] { "123", "456", "78" })]
    [InlineData("I'm you'LL", new[] { "I", "'m", " you", "'LL" })]
    [InlineData("  x", new[] { " ", " x" })]
    [InlineData("a\n\n  b", new[] { "a", "\n\n", " ", " b" })]
    [InlineData("end   ", new[] { "end", "   " })]
    [InlineData("x ...\n\ny", new[] { "x", " ...\n\n", "y" })]
    [InlineData("\tif(x)", new[] { "\tif", "(x", ")" })]
    [InlineData("a \n b", new[] { "a", " \n", " b" })]
    [InlineData("😀abc", new[] { "😀abc" })]
    [InlineData("𝐀𝐁 x", new[] { "𝐀𝐁", " x" })]
    [InlineData("𝟏𝟐𝟑𝟒", new[] { "𝟏𝟐𝟑", "𝟒" })]
    public void Llama3_pattern_pieces(string text, string[] expected) =>
        Assert.Equal(expected, Llama3.SplitToStrings(text));

    [Fact]
    public void Qwen_pattern_splits_every_digit() =>
        Assert.Equal(["x", "1", "2", "3", "4"], Qwen.SplitToStrings("x1234"));

    [Theory]
    [InlineData("Hello, world! It's 2024...\n\n  def f(x):\r\n\treturn x**2  # ok\n")]
    [InlineData("a  b   c\t\td\n\n\ne \r\n f   \n   \n\t x  ")]
    [InlineData("'s'S'Re're'VE'm'LL'd'x ''' ' \"quoted\" 1234567 --> <<= 3.14")]
    [InlineData("caf\u00e9 na\u00efve \u4f60\u597d\u3002 \u0663\u0664\u0665\u0666\u0667 a\u00a0b\u3000c")]
    public void Scanners_agree_with_dotnet_regex_on_bmp_text(string text)
    {
        foreach (var (scanner, pattern) in new[]
                 {
                     (Llama3, LlamaStylePreTokenizer.Llama3Pattern),
                     (Qwen, LlamaStylePreTokenizer.QwenPattern),
                     ((PreTokenizer)new Gpt2PreTokenizer(), Gpt2PreTokenizer.Pattern),
                 })
            Assert.Equal(new RegexPreTokenizer(pattern).SplitToStrings(text), scanner.SplitToStrings(text));
    }

    [Fact]
    public void Gpt2_pattern_pieces() =>
        Assert.Equal(["Hello", ",", " world", "'s", " 123", "  ", " x"], new Gpt2PreTokenizer().SplitToStrings("Hello, world's 123   x"));

    [Fact]
    public void Digits_pre_tokenizer_isolates_digits() =>
        Assert.Equal(["ab", "1", "2", "c"], new DigitsPreTokenizer(individualDigits: true).SplitToStrings("ab12c"));

    [Fact]
    public void Possessive_quantifiers_become_atomic_groups() =>
        Assert.Equal(@"(?>[^\s]+)(?>\p{L}?)a", RegexPreTokenizer.TranslatePossessive(@"[^\s]++\p{L}?+a"));
}
