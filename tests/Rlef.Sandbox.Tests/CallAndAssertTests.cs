using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

[Collection("pool")]
public class CallAndAssertTests(PoolFixture f)
{
    private async Task<IReadOnlyList<TestResult>> Run(string code, params TestCase[] tests) =>
        (await f.Pool.RunAsync(new ExecutionRequest { Code = code, Tests = tests })).Results;

    [Fact]
    public async Task CallReturnsTheValueInItsStableEncoding()
    {
        var r = await Run("def f(a, b):\n    return {'sum': a + b, 't': (a,), 's': {3, 1, 2}, 'f': 0.1 + 0.2, 'n': None, 'b': b'x'}",
            TestCase.Call("f", "[1, 2]", null));
        Assert.Equal(Verdict.Passed, r[0].Verdict);
        Assert.Equal("{'sum': 3, 't': (1,), 's': {1, 2, 3}, 'f': 0.30000000000000004, 'n': None, 'b': b'x'}", r[0].Actual);
    }

    [Fact]
    public async Task CanonicalValueBecomesTheExpectation()
    {
        var canonical = await Run("def f(xs):\n    return sorted(xs)", TestCase.Call("f", "[[3, 1, 2]]", null));
        string expected = canonical[0].Actual!;
        var r = await Run("def f(xs):\n    return list(reversed(xs))",
            TestCase.Call("f", "[[3, 1, 2]]", expected), TestCase.Call("f", "[[1, 2, 3]]", null));
        Assert.Equal(Verdict.WrongAnswer, r[0].Verdict);
        Assert.Equal("[1, 2, 3]", r[0].Expected);
        Assert.Equal("[2, 1, 3]", r[0].Actual);
    }

    [Fact]
    public async Task FloatsWithToleranceTuplesAndNan()
    {
        var r = await Run("import math\ndef f(x):\n    return [x / 3, x / 3 + 1e-9] if x else math.nan\ndef g():\n    return (1, 2)",
            TestCase.Call("f", "[1.0]", "[0.3333333333333333, 0.3333333333333333]"),
            TestCase.Call("f", "[0]", "nan"),
            TestCase.Call("g", "[]", "[1, 2]"),
            TestCase.Call("g", "[]", "(1, 2)"));
        Assert.Equal(new[] { Verdict.Passed, Verdict.Passed, Verdict.WrongAnswer, Verdict.Passed }, r.Select(x => x.Verdict));
    }

    [Fact]
    public async Task LargeArgumentsAndSpecialJsonNumbers()
    {
        string args = "[[" + string.Join(", ", Enumerable.Range(0, 50_000)) + "], Infinity]";
        var r = await Run("def f(xs, big):\n    return (sum(xs), big)", TestCase.Call("f", args, "(1249975000, inf)"));
        Assert.Equal(Verdict.Passed, r[0].Verdict);
    }

    [Fact]
    public async Task CallErrors()
    {
        var r = await Run("class C:\n    pass\ndef f():\n    return C()\ndef g():\n    raise KeyError('k')\nprint('module-level output is fine')",
            TestCase.Call("f", "[]", "1"), TestCase.Call("g", "[]", "1"), TestCase.Call("missing", "[]", "1"),
            TestCase.Call("f", "[1, 2]", "1"));
        Assert.Equal(Verdict.WrongAnswer, r[0].Verdict);
        Assert.Equal("<unencodable C>", r[0].Actual);
        Assert.Equal(Verdict.RuntimeError, r[1].Verdict);
        Assert.EndsWith("KeyError: 'k'", r[1].Error);
        Assert.Contains("solution.py", r[1].Error);
        Assert.Equal(Verdict.RuntimeError, r[2].Verdict);
        Assert.Contains("NameError", r[2].Error);
        Assert.Equal(Verdict.RuntimeError, r[3].Verdict);
        Assert.Contains("TypeError", r[3].Error);
    }

    [Fact]
    public async Task ObjectsThatLieAboutEqualityDoNotPass()
    {
        // A subclass whose __eq__ always says yes is refused by the encoder.
        var r = await Run("class L(list):\n    def __eq__(self, o):\n        return True\ndef f():\n    return L([9])",
            TestCase.Call("f", "[]", "[1]"));
        Assert.Equal(Verdict.WrongAnswer, r[0].Verdict);
    }

    [Fact]
    public async Task AssertTests()
    {
        var r = await Run("def add(a, b):\n    return a + b\n",
            TestCase.Assert("assert add(1, 2) == 3"),
            TestCase.Assert("assert add(1, 2) == 4, f'add(1, 2) returned {add(1, 2)}, expected 4'"),
            TestCase.Assert("assert add(1, 2) == 5"),
            TestCase.Assert("add('a', 1)"),
            TestCase.Assert("assert add(1,"));
        Assert.Equal(Verdict.Passed, r[0].Verdict);
        Assert.Equal(Verdict.WrongAnswer, r[1].Verdict);
        Assert.Equal("AssertionError: add(1, 2) returned 3, expected 4", r[1].Error);
        Assert.Equal(Verdict.WrongAnswer, r[2].Verdict);
        Assert.Equal("AssertionError: assert add(1, 2) == 5", r[2].Error);
        Assert.Equal(Verdict.RuntimeError, r[3].Verdict);
        Assert.Contains("line 2, in add", r[3].Error);
        Assert.EndsWith("TypeError: can only concatenate str (not \"int\") to str", r[3].Error);
        Assert.Equal(Verdict.InfraError, r[4].Verdict);   // the test itself is broken, not the solution
    }

    [Fact]
    public async Task AssertionInsideTheSolutionFailsTheAssertTest()
    {
        var r = await Run("def f(x):\n    assert x > 0, 'x must be positive'\n    return x", TestCase.Assert("f(-1)"));
        Assert.Equal(Verdict.WrongAnswer, r[0].Verdict);
        Assert.Equal("AssertionError: x must be positive", r[0].Error);
    }
}
