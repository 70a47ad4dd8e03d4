using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

public class OutputComparerTests
{
    [Theory]
    [InlineData("1 2 3\n", "1 2 3", true)]            // trailing newline
    [InlineData("1 2 3", "  1\n2\t3\n\n", true)]       // any whitespace
    [InlineData("YES", "yes", true)]                   // case
    [InlineData("Yes\nNo", "YES NO", true)]
    [InlineData("0.5", "0.500001", true)]              // float within 1e-5
    [InlineData("0.5", "0.50002", false)]              // float outside 1e-5
    [InlineData("3", "3.000001", true)]                // either a float: tolerance applies
    [InlineData("3", "4", false)]                      // integers must be equal
    [InlineData("007", "7", true)]                     // integers compared as numbers
    [InlineData("100000000000000000001", "100000000000000000000", false)]  // big integers exactly
    [InlineData("1e-6", "0", true)]
    [InlineData("", "", true)]                         // empty output
    [InlineData("", "\n", true)]
    [InlineData("1", "", false)]
    [InlineData("", "0", false)]
    [InlineData("1 2", "1 2 3", false)]
    [InlineData("inf", "INF", true)]                   // words compare case-insensitively
    [InlineData("nan", "nan", true)]
    [InlineData("nan", "0.0", false)]                  // nan is a word, never a number
    [InlineData("abc", "abd", false)]
    public void CodeContests(string expected, string actual, bool match) =>
        Assert.Equal(match, OutputComparer.Matches(Comparison.CodeContests, expected, actual));

    [Theory]
    [InlineData("a\n", "a\n", true)]
    [InlineData("a\n", "a", false)]   // trailing newline matters
    [InlineData("a", "A", false)]
    [InlineData("", "", true)]
    [InlineData("a b", "a  b", false)]
    public void Exact(string expected, string actual, bool match) =>
        Assert.Equal(match, OutputComparer.Matches(Comparison.Exact, expected, actual));

    [Theory]
    [InlineData("a\nb\n", "a  \nb", true)]         // trailing whitespace and trailing newline
    [InlineData("a\nb", "a\r\nb\r\n\n\n", true)]   // CRLF and trailing empty lines
    [InlineData("a\nb", "a\n\nb", false)]          // inner empty line matters
    [InlineData("a b", "a  b", false)]             // inner whitespace matters
    [InlineData(" a", "a", false)]                 // leading whitespace matters
    [InlineData("", "\n\n", true)]
    [InlineData("A", "a", false)]
    public void LineWise(string expected, string actual, bool match) =>
        Assert.Equal(match, OutputComparer.Matches(Comparison.LineWise, expected, actual));

    [Fact]
    public void ValueToleranceOnStdoutParsesValues()
    {
        Assert.True(OutputComparer.Matches(Comparison.ValueTolerance, "[0.1, 0.2]\n", "[0.1000000001, 0.2]"));
        Assert.False(OutputComparer.Matches(Comparison.ValueTolerance, "[1, 2]", "(1, 2)"));
    }
}

public class ValueComparerTests
{
    [Theory]
    [InlineData("1", "1.0", true)]                    // Python: 1 == 1.0
    [InlineData("True", "1", true)]                   // Python: True == 1
    [InlineData("[1, 2]", "(1, 2)", false)]           // list != tuple (evalplus compares with ==)
    [InlineData("(1,)", "(1,)", true)]
    [InlineData("0.1", "0.1000001", true)]            // float: default atol 1e-6
    [InlineData("0.1", "0.10001", false)]
    [InlineData("[0.1, 0.2]", "[0.1000001, 0.2]", true)]   // list of floats: atol applies
    [InlineData("[[0.1]]", "[[0.1000001]]", false)]   // nested: evalplus' is_floats is false, exact only
    [InlineData("[0.1, 2]", "[0.1000001, 2]", false)] // not all floats: exact only
    [InlineData("nan", "nan", true)]                  // documented: NaN equals NaN
    [InlineData("nan", "0.0", false)]
    [InlineData("inf", "inf", true)]
    [InlineData("inf", "-inf", false)]
    [InlineData("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}", true)]   // dict order irrelevant
    [InlineData("{1: 'x'}", "{1.0: 'x'}", true)]     // equal keys by value
    [InlineData("{1, 2, 3}", "{3, 1, 2}", true)]
    [InlineData("{1, 2}", "frozenset({1, 2})", true) ]
    [InlineData("set()", "{}", false)]                // empty set is not an empty dict
    [InlineData("'a\\'b\\n'", "\"a'b\\n\"", true)]    // repr quoting variants
    [InlineData("'\\xe9\\u4e2d\\U0001f600'", "'é中😀'", true)]
    [InlineData("b'\\x00a'", "b'\\x00a'", true)]
    [InlineData("'1'", "1", false)]
    [InlineData("None", "None", true)]
    [InlineData("None", "0", false)]
    [InlineData("123456789012345678901234567890", "123456789012345678901234567891", false)]
    [InlineData("9007199254740993", "9007199254740992.0", false)]  // exact int/float comparison past 2^53
    [InlineData("<unencodable Foo>", "<unencodable Foo>", true)]
    [InlineData("<unencodable Foo>", "1", false)]
    public void EvalplusRules(string expected, string actual, bool match) =>
        Assert.Equal(match, ValueComparer.Matches(expected, actual));

    [Fact]
    public void ExplicitAtolAppliesEverywhere()
    {
        Assert.False(ValueComparer.Matches("[[1.0]]", "[[1.01]]"));
        Assert.True(ValueComparer.Matches("[[1.0]]", "[[1.01]]", atol: 0.1));
        Assert.True(ValueComparer.Matches("{'k': 2.0}", "{'k': 2.05}", atol: 0.1));
        Assert.False(ValueComparer.Matches("[1.0]", "(1.05,)", atol: 0.1));   // container types still must match
    }

    [Fact]
    public void ParserReadsEveryForm()
    {
        var v = PythonValue.Parse("[None, True, -3, 2.5e-05, -inf, 'x', b'y', (1,), (), {1: [2]}, {3}, frozenset()]");
        var items = Assert.IsType<PythonValue.List>(v).Items;
        Assert.Equal(12, items.Count);
        Assert.IsType<PythonValue.None>(items[0]);
        Assert.Equal(new PythonValue.Int(-3), items[2]);
        Assert.Equal(2.5e-05, Assert.IsType<PythonValue.Float>(items[3]).Value);
        Assert.Single(Assert.IsType<PythonValue.Tuple>(items[7]).Items);
        Assert.Empty(Assert.IsType<PythonValue.Tuple>(items[8]).Items);
        Assert.True(Assert.IsType<PythonValue.Set>(items[11]).Frozen);
        Assert.False(PythonValue.TryParse("[1, 2", out _, out string? error));
        Assert.Contains("offset", error);
    }
}
