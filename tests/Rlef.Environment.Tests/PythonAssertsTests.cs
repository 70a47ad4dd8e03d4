using Rlef.Environment.Problems;

namespace Rlef.Environment.Tests;

public sealed class PythonAssertsTests
{
    [Fact]
    public void SplitsTopLevelStatementsKeepingBlocksAndContinuations()
    {
        string body = "import math\nassert f([1,\n  2]) == 3\nfor x in range(3):\n    assert f(x) >= 0\n\n# comment\nassert f('a\\n#') == \"\"\"x\ny\"\"\"\n";
        var statements = PythonAsserts.TopLevelStatements(body);
        Assert.Equal(["import math", "assert f([1,\n  2]) == 3", "for x in range(3):\n    assert f(x) >= 0", "assert f('a\\n#') == \"\"\"x\ny\"\"\""], statements);
    }

    [Theory]
    [InlineData("assert f(1) == 2", "__rlef_compare((f(1)), \"==\", (2))")]
    [InlineData("assert f(1) == 2, \"bad\"", "__rlef_compare((f(1)), \"==\", (2), (\"bad\"))")]
    [InlineData("assert abs(f(1) - 0.5) < 1e-6", "__rlef_compare((abs(f(1) - 0.5)), \"<\", (1e-6))")]
    [InlineData("assert f('a==b') != [1, 2]", "__rlef_compare((f('a==b')), \"!=\", ([1, 2]))")]
    [InlineData("assert f(1)", "__rlef_true((f(1)))")]
    [InlineData("assert not f(1)", "__rlef_true((not f(1)))")]
    [InlineData("assert 0 < f(1) < 3", "__rlef_true((0 < f(1) < 3))")]
    [InlineData("assert f(1) == 2 or f(1) == 3", "__rlef_true((f(1) == 2 or f(1) == 3))")]
    [InlineData("assert f(1) is None", "__rlef_true((f(1) is None))")]
    [InlineData("assert set(f(x=1)) == {1}", "__rlef_compare((set(f(x=1))), \"==\", ({1}))")]
    public void RewritesAssertsToShowValues(string assert, string rewritten) => Assert.Equal(rewritten, PythonAsserts.Rewrite(assert));

    [Fact]
    public void RewritesAssertsInsideBlocks()
    {
        Assert.Equal("for x in range(3):\n    __rlef_compare((f(x)), \">=\", (0))", PythonAsserts.Rewrite("for x in range(3):\n    assert f(x) >= 0"));
    }

    [Fact]
    public void SplitsTheCheckFunctionFromItsModule()
    {
        var (prelude, body) = PythonAsserts.SplitCheckFunction("import math\nMETA = 1\n\ndef check(candidate):\n    assert candidate(1) == 1\n    assert candidate(2) == 2\n\nX = 3\n",
            m => new InvalidOperationException(m));
        Assert.Equal("import math\nMETA = 1\n\nX = 3\n", prelude);
        Assert.Equal("assert candidate(1) == 1\nassert candidate(2) == 2\n", body);
    }
}
