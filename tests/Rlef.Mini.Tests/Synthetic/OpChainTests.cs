using Rlef.Mini.Synthetic;

namespace Rlef.Mini.Tests.Synthetic;

public sealed class OpChainTests
{
    private static Op K(string name, long k) => new(name, k) { HasK = true };

    [Fact]
    public void List_chain_renders_python_input_and_answers()
    {
        var chain = new OpChain(Family.List, MultiCase: true, [K("keep_gt", 3), K("mul", 2), new Op("max")]);
        Assert.Equal(
            "for _ in range(int(input())):\n" +
            "    n = int(input())\n" +
            "    a = list(map(int, input().split()))\n" +
            "    a = [x for x in a if x > 3]\n" +
            "    a = [x * 2 for x in a]\n" +
            "    print(max(a) if a else 0)\n",
            chain.ToPython());
        List<object> cases = [new long[] { 1, 5, 4 }, new long[] { 1, 3 }];
        Assert.Equal("2\n3\n1 5 4\n2\n1 3\n", chain.RenderInput(cases));
        Assert.Equal("10\n0\n", chain.Run(cases));
        Assert.Equal("list:keep_gt(3) > mul(2) > max", chain.Key);
        Assert.Equal("list:keep_gt > mul > max", chain.StructureKey);

        // The unguarded max() raises on the emptied list, exactly where Python would.
        var bare = chain with { Ops = [chain.Ops[0], chain.Ops[1], new Op("max_bare")] };
        Assert.Equal("10\n", bare.Run([cases[0]]));
        Assert.Throws<PythonWouldRaise>(() => bare.Run(cases));
        // Forgetting the loop answers the first case only.
        Assert.Equal("10\n", (chain with { ForgetsLoop = true }).Run(cases));
        Assert.StartsWith("t = int(input())\nn = int(input())\n", (chain with { ForgetsLoop = true }).ToPython());
    }

    [Fact]
    public void Number_ops_round_like_python_and_the_truncating_bug_differs_on_negatives()
    {
        var chain = new OpChain(Family.Numbers, false, [new Op("diff"), K("div", 3), new Op("print")]);
        Assert.Equal("-3", chain.Answer((1L, 8L)));  // (1 - 8) // 3 == -3 in Python
        var truncating = chain with { Ops = [new Op("diff"), K("tdiv", 3), new Op("print")] };
        Assert.Equal("-2", truncating.Answer((1L, 8L)));  // int(-7 / 3) == -2
        Assert.Equal(chain.Answer((8L, 1L)), truncating.Answer((8L, 1L)));
        Assert.Equal("a, b = map(int, input().split())\nx = a - b\nx //= 3\nprint(x)\n", chain.ToPython());
    }

    [Theory]
    [InlineData("rotate", 2, "abcd", "cdab")]
    [InlineData("rotate", 4, "abcd", "abcd")]
    [InlineData("rotate", 5, "abc", "abc")]
    [InlineData("rotate_right", 1, "abcd", "dabc")]
    [InlineData("take", 2, "abcd", "ab")]
    [InlineData("take", 9, "abc", "abc")]
    [InlineData("skip", 3, "ab", "")]
    [InlineData("stretch", 2, "ab", "aabb")]
    public void Text_slicing_follows_python(string name, long k, string input, string expected)
    {
        var chain = new OpChain(Family.Text, false, [K(name, k), new Op("print")]);
        Assert.Equal(expected, chain.Answer(input));
    }

    [Fact]
    public void Text_find_and_its_bugs()
    {
        OpChain Terminal(string name) => new(Family.Text, false, [new Op("reverse"), new Op(name, C: 'b')]);
        Assert.Equal("1", Terminal("find").Answer("babc"));     // reversed: cbab
        Assert.Equal("2", Terminal("find1").Answer("babc"));
        Assert.Equal("3", Terminal("rfind").Answer("babc"));
        Assert.Equal("-1", Terminal("find").Answer("aca"));
        Assert.Throws<PythonWouldRaise>(() => Terminal("index").Answer("aca"));
    }

    [Fact]
    public void Positions_count_from_one_or_zero_and_the_other_base_is_the_format_bug()
    {
        OpChain Text(string name) => new(Family.Text, false, [new Op("reverse"), new Op(name, C: 'b')]);
        Assert.Equal("2", Text("pos").Answer("babc"));     // reversed: cbab
        Assert.Equal("1", Text("pos0").Answer("babc"));
        Assert.Equal("4", Text("rpos").Answer("babc"));
        Assert.Equal("-1", Text("pos").Answer("aca"));
        Assert.Equal("-1", Text("rpos0").Answer("aca"));
        OpChain List(string name) => new(Family.List, false, [K("keep_lt", 9), new Op(name)]);
        Assert.Equal("2", List("argmax").Answer(new long[] { 1, 12, 5, 3, 5 }));    // kept: 1 5 3 5
        Assert.Equal("1", List("argmax0").Answer(new long[] { 1, 12, 5, 3, 5 }));
        Assert.Equal("1", List("argmin").Answer(new long[] { 1, 12, 5 }));
        Assert.Equal("-1", List("argmin0").Answer(new long[] { 10 }));
        Assert.Equal("print(a.index(max(a)) + 1 if a else -1)", List("argmax").ToPython().TrimEnd().Split('\n')[^1]);

        // The statement reads the same for both bases; the mutant that flips the base is a wrong-format bug.
        var one = List("argmax");
        Assert.Equal(OpCatalog.Get(Family.List, "argmax").English[0](new Op("argmax")), OpCatalog.Get(Family.List, "argmax0").English[0](new Op("argmax0")));
        var flips = Mutator.Enumerate(one, new Domain(0, 20, "", 8)).Where(m => m.Kind == MutationKind.WrongFormat).ToList();
        Assert.Contains(flips, m => m.Chain.Ops[^1].Name == "argmax0");
    }

    [Fact]
    public void Mutator_covers_every_bug_kind_a_chain_admits()
    {
        var chain = new OpChain(Family.List, MultiCase: true, [K("keep_ge", 4), K("rotate", 2), new Op("first")]);
        var mutants = Mutator.Enumerate(chain, new Domain(-20, 20, "", 8)).ToList();
        var kinds = mutants.Select(m => m.Kind).ToHashSet();
        Assert.Contains(MutationKind.OffByOne, kinds);          // keep_ge -> keep_gt, rotate(2) -> rotate(3)
        Assert.Contains(MutationKind.WrongOperator, kinds);     // keep_ge -> keep_le, first -> last
        Assert.Contains(MutationKind.WrongOrder, kinds);        // rotate left -> right, steps swapped
        Assert.Contains(MutationKind.MissingStep, kinds);
        Assert.Contains(MutationKind.MissingEdgeCase, kinds);   // a[0] without a guard
        Assert.Contains(MutationKind.WrongFormat, kinds);       // only the first test case
        Assert.All(mutants, m => Assert.NotEqual(chain.ToPython(), m.Chain.ToPython()));
    }

    [Fact]
    public void Statements_state_every_parameter()
    {
        var problems = SyntheticDataset.GenerateSplits(5, 0, 0, 60, Difficulty.Hard).Test;
        foreach (var p in problems)
        {
            string task = p.Description[..p.Description.IndexOf("\n\nExample", StringComparison.Ordinal)];
            foreach (var op in p.Chain.Ops)
            {
                if (op.HasK && op.K != 1)  // a count of 1 is written as "the first letter"
                    Assert.True(task.Contains(op.K.ToString(System.Globalization.CultureInfo.InvariantCulture)), $"{p.Name}: {op.Key} not stated in:\n{task}");
                if (op.C != '\0')
                    Assert.Contains(op.C.ToString(), task);
                if (op.D != '\0')
                    Assert.Contains(op.D.ToString(), task);
            }
        }
    }
}
