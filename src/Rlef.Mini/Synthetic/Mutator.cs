namespace Rlef.Mini.Synthetic;

/// <summary>A chain with one bug in it: what the incorrect solutions are rendered from.</summary>
public sealed record Mutant(MutationKind Kind, string Change, OpChain Chain);

/// <summary>
/// The bugs a contestant plausibly makes in a chain: each op's own mistakes (off-by-one threshold, wrong constant,
/// wrong operator, missing guard for an empty result, wrong output format), a forgotten step, two steps swapped,
/// and, with a leading t, solving only the first test case. Some mutants are equivalent to the reference on every
/// valid input; the generator keeps only those that some hidden test exposes.
/// </summary>
public static class Mutator
{
    public static IEnumerable<Mutant> Enumerate(OpChain chain, Domain domain)
    {
        var ops = chain.Ops;
        for (int i = 0; i < ops.Count; i++)
        {
            var spec = OpCatalog.Get(chain.Family, ops[i].Name);
            foreach (var m in spec.Mutations(ops[i], domain))
                yield return new Mutant(m.Kind, $"{ops[i].Key} -> {m.Replacement.Key}", Replace(chain, i, m.Replacement));
            if (spec.Role == OpRole.Step)
                yield return new Mutant(MutationKind.MissingStep, $"{ops[i].Key} left out", chain with { Ops = [.. ops.Take(i), .. ops.Skip(i + 1)] });
        }
        for (int i = 0; i + 1 < ops.Count; i++)
        {
            if (OpCatalog.Get(chain.Family, ops[i].Name).Role != OpRole.Step || OpCatalog.Get(chain.Family, ops[i + 1].Name).Role != OpRole.Step)
                continue;
            var swapped = ops.ToArray();
            (swapped[i], swapped[i + 1]) = (swapped[i + 1], swapped[i]);
            yield return new Mutant(MutationKind.WrongOrder, $"{ops[i].Key} and {ops[i + 1].Key} swapped", chain with { Ops = swapped });
        }
        if (chain.MultiCase)
            yield return new Mutant(MutationKind.WrongFormat, "only the first test case solved", chain with { ForgetsLoop = true });
    }

    private static OpChain Replace(OpChain chain, int index, Op replacement)
    {
        var ops = chain.Ops.ToArray();
        ops[index] = replacement;
        return chain with { Ops = ops };
    }
}
