namespace Rlef.Mini.Synthetic;

/// <summary>
/// Generates problems: samples a chain of operations, draws test inputs, computes the expected outputs by
/// evaluating the chain in C#, keeps the incorrect solutions that some hidden test exposes (adding a test that
/// exposes one when the random tests do not), and writes the statement. Everything is drawn from the caller's
/// <see cref="Random"/>, so a seed fixes the output.
/// </summary>
public sealed class ProblemGenerator
{
    private readonly Difficulty _difficulty;

    public ProblemGenerator(Difficulty difficulty)
    {
        difficulty.Validate();
        _difficulty = difficulty;
    }

    /// <summary>
    /// One problem whose chain <paramref name="accept"/> allows (the splits use it to keep instances apart).
    /// Throws when no acceptable chain turns up in many tries (the space of chains is exhausted).
    /// </summary>
    public SyntheticProblem Generate(Random rng, string name, Func<OpChain, bool>? accept = null)
    {
        const int attempts = 2000;
        // The family is drawn once, so that families whose chains are rejected more often keep their share.
        var family = _difficulty.Families[rng.Next(_difficulty.Families.Count)];
        for (int attempt = 0; attempt < attempts; attempt++)
        {
            var domain = SampleDomain(family, rng);
            var chain = SampleChain(family, domain, rng);
            if (accept != null && !accept(chain))
                continue;
            var problem = TryBuild(chain, domain, name, rng);
            if (problem != null)
                return problem;
        }
        throw new InvalidOperationException(
            $"no new problem found in {attempts} attempts for '{name}': the requested counts exceed what this difficulty can generate");
    }

    // ---- sampling ---------------------------------------------------------------------------------------------------

    private Domain SampleDomain(Family family, Random rng)
    {
        bool negatives = rng.NextDouble() < _difficulty.EdgeCaseProbability;
        return family switch
        {
            Family.Numbers => negatives ? new Domain(-50, 50, "", 0) : new Domain(0, 100, "", 0),
            Family.List => negatives ? new Domain(-20, 20, "", 8) : new Domain(0, 20, "", 8),
            Family.Text => new Domain(0, 0, "abcdef"[..rng.Next(3, 6)], 10),
            _ => throw new ArgumentOutOfRangeException(nameof(family)),
        };
    }

    private OpChain SampleChain(Family family, Domain domain, Random rng)
    {
        var terminals = OpCatalog.Sampled(family, OpRole.Terminal);
        // Draw only when the knob is on, so that problems of difficulties without positions stay as they were.
        var positional = OpCatalog.Positional(family);
        if (_difficulty.PositionProbability > 0 && positional.Count > 0 && rng.NextDouble() < _difficulty.PositionProbability)
            terminals = _difficulty.OpenConventionProbability > 0 && rng.NextDouble() < _difficulty.OpenConventionProbability
                ? OpCatalog.OpenPositional(family) : positional;
        var terminalSpec = terminals[rng.Next(terminals.Count)];
        int steps = rng.Next(_difficulty.MinSteps, _difficulty.MaxSteps + 1);

        // Steps are chosen back to front so that a pure reordering (sort, reverse, rotate) is only placed where
        // something after it reads the order; otherwise it would be a no-op the statement still asks for.
        var chosen = new List<Op>();
        var used = new HashSet<string>();
        bool orderMatters = terminalSpec.ReadsOrder;
        var candidates = OpCatalog.Sampled(family, OpRole.Step);
        for (int i = 0; i < steps; i++)
        {
            var allowed = candidates.Where(s => !used.Contains(s.Name) && (!s.Reorders || orderMatters)).ToList();
            if (allowed.Count == 0)
                break;
            var spec = allowed[rng.Next(allowed.Count)];
            used.Add(spec.Name);
            chosen.Insert(0, spec.Sample!(rng, domain));
            orderMatters |= spec.ReadsOrder;
        }

        var ops = new List<Op>();
        if (family == Family.Numbers)
        {
            var starts = OpCatalog.Sampled(family, OpRole.Start);
            ops.Add(starts[rng.Next(starts.Count)].Sample!(rng, domain));
        }
        ops.AddRange(chosen);
        ops.Add(terminalSpec.Sample!(rng, domain));
        return new OpChain(family, rng.NextDouble() < _difficulty.MultiCaseProbability, ops);
    }

    /// <summary>One test case. Edge cases favour the chain's own constants (±1), zero and tiny sizes.</summary>
    private object SampleCase(OpChain chain, Domain d, Random rng, bool small)
    {
        bool edge = rng.NextDouble() < _difficulty.EdgeCaseProbability;
        var interesting = chain.Ops.Where(o => o.K != 0).SelectMany(o => new[] { o.K - 1, o.K, o.K + 1 })
            .Append(0).Where(v => v >= d.Lo && v <= d.Hi).Distinct().Order().ToArray();
        long Value() => rng.NextDouble() < (edge ? 0.6 : 0.2) ? interesting[rng.Next(interesting.Length)] : rng.NextInt64(d.Lo, d.Hi + 1);

        switch (chain.Family)
        {
            case Family.Numbers:
                return (Value(), Value());
            case Family.List:
            {
                int max = small ? Math.Min(5, d.MaxLength) : d.MaxLength;
                int n = edge ? rng.Next(1, 4) : rng.Next(1, max + 1);
                return Enumerable.Range(0, n).Select(_ => Value()).ToArray();
            }
            case Family.Text:
            {
                int max = small ? Math.Min(7, d.MaxLength) : d.MaxLength;
                int n = edge ? rng.Next(1, 4) : rng.Next(1, max + 1);
                // Edge strings use only two letters, so repeated letters, palindromes and absent letters are common.
                string letters = edge ? d.Alphabet[..2] : d.Alphabet;
                return new string(Enumerable.Range(0, n).Select(_ => letters[rng.Next(letters.Length)]).ToArray());
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(chain));
        }
    }

    private List<object> SampleTest(OpChain chain, Domain d, Random rng, bool small)
    {
        int count = !chain.MultiCase ? 1 : small ? rng.Next(2, 4) : rng.Next(1, StatementWriter.MaxCases + 1);
        return Enumerable.Range(0, count).Select(_ => SampleCase(chain, d, rng, small)).ToList();
    }

    // ---- building a problem -----------------------------------------------------------------------------------------

    private SyntheticProblem? TryBuild(OpChain chain, Domain domain, string name, Random rng)
    {
        // A chain whose answer hardly depends on the input (e.g. a filter that always empties the list) teaches nothing.
        var pool = Enumerable.Range(0, 60).Select(_ => SampleCase(chain, domain, rng, small: false)).ToList();
        var answers = pool.Select(chain.Answer).ToList();
        int mostCommon = answers.GroupBy(a => a).Max(g => g.Count());
        if (answers.Distinct().Count() < 2 || mostCommon > 0.7 * answers.Count)
            return null;
        // Every step the statement asks for must change some answer (e.g. not "replace c by a, then delete every c").
        for (int i = 0; i < chain.Ops.Count; i++)
        {
            if (OpCatalog.Get(chain.Family, chain.Ops[i].Name).Role != OpRole.Step)
                continue;
            var without = chain with { Ops = [.. chain.Ops.Take(i), .. chain.Ops.Skip(i + 1)] };
            if (pool.Select(without.Answer).SequenceEqual(answers))
                return null;
        }

        int hiddenCount = rng.Next(_difficulty.MinHiddenTests, Math.Min(_difficulty.MinHiddenTests + 4, _difficulty.MaxHiddenTests) + 1);
        var hidden = MakeTests(chain, domain, rng, hiddenCount, small: false, []);
        var incorrect = ChooseIncorrect(chain, domain, rng, pool, hidden);
        if (incorrect.Count == 0)
            return null;
        var publicTests = ChoosePublic(chain, domain, rng, hidden, incorrect.Select(m => m.Chain).ToList());
        var shown = publicTests;
        if (chain.Specs.Last().OpenConventions)
        {
            // The occurrence must matter, and only a public test that is not among the shown examples may settle it.
            var occurrence = incorrect.FirstOrDefault(m => m.Chain.Ops[^1].Name == OpCatalog.OtherOccurrence(chain.Ops[^1].Name));
            if (occurrence == null)
                return null;
            shown = publicTests.Where(t => !Fails(occurrence.Chain, t)).ToList();
            var settling = SettlingTest(chain, domain, rng, occurrence.Chain, publicTests.Where(t => Fails(occurrence.Chain, t)).ToList(),
                [.. hidden.Select(t => t.Input), .. publicTests.Select(t => t.Input)]);
            // A wrong base must also fail a shown example, so that its feedback lists at least two failures where a
            // wrong occurrence's lists one (docs/mini.md, "Open conventions").
            var otherBase = chain with { Ops = [.. chain.Ops.SkipLast(1), chain.Ops[^1] with { Name = OpCatalog.OtherBase(chain.Ops[^1].Name) }] };
            if (shown.Count == 0 || settling == null || !shown.Any(t => Fails(otherBase, t)))
                return null;
            publicTests = [.. shown, settling];
        }

        // The policy's context is small: among a few wordings keep the first within the target length, else the shortest.
        var task = StatementWriter.Task(chain, domain, rng);
        for (int i = 0; i < 8 && task.Length > StatementWriter.TargetLength; i++)
        {
            var other = StatementWriter.Task(chain, domain, rng);
            if (other.Length < task.Length)
                task = other;
        }
        if (task.Length > StatementWriter.MaxLength)
            return null;
        var publicPairs = publicTests.Select(t => t.Test).ToList();
        return new SyntheticProblem
        {
            Name = name,
            Description = StatementWriter.Description(task, shown.Select(t => t.Test).ToList()),
            PublicTests = publicPairs,
            HiddenTests = hidden.Select(t => t.Test).ToList(),
            Solution = chain.ToPython(),
            IncorrectSolutions = incorrect.Select(m => new IncorrectSolution(m.Kind, m.Change, m.Chain.ToPython())).ToList(),
            Chain = chain,
            Domain = domain,
            DifficultyLevel = _difficulty.Level,
        };
    }

    private sealed record BuiltTest(List<object> Cases, SyntheticTest Test)
    {
        public string Input => Test.Input;
    }

    private static BuiltTest Build(OpChain chain, List<object> cases) => new(cases, new SyntheticTest(chain.RenderInput(cases), chain.Run(cases)));

    private List<BuiltTest> MakeTests(OpChain chain, Domain domain, Random rng, int count, bool small, HashSet<string> taken)
    {
        var tests = new List<BuiltTest>();
        for (int tries = 0; tests.Count < count && tries < count * 20; tries++)
        {
            var test = Build(chain, SampleTest(chain, domain, rng, small));
            if (taken.Add(test.Input))
                tests.Add(test);
        }
        return tests;
    }

    /// <summary>
    /// Keeps up to MaxIncorrectSolutions mutants, spread over bug kinds, each exposed by some hidden test. A mutant
    /// that no hidden test exposes gets a new hidden test built around a case that does; one that no case exposes
    /// is equivalent to the reference on this domain and is dropped.
    /// </summary>
    private List<Mutant> ChooseIncorrect(OpChain chain, Domain domain, Random rng, List<object> pool, List<BuiltTest> hidden)
    {
        string reference = chain.ToPython();
        var candidates = Mutator.Enumerate(chain, domain)
            .GroupBy(m => m.Chain.ToPython()).Select(g => g.First())
            .Where(m => m.Chain.ToPython() != reference)
            .OrderBy(_ => rng.Next()).ToList();

        // Round-robin over bug kinds (in a random order), so that one op's many variants do not crowd out other kinds.
        var kindRank = Enum.GetValues<MutationKind>().ToDictionary(k => k, _ => rng.Next());
        var ordered = candidates.GroupBy(m => m.Kind)
            .SelectMany(g => g.Select((m, i) => (m, i))).OrderBy(x => x.i).ThenBy(x => kindRank[x.m.Kind]).Select(x => x.m).ToList();
        // A positional problem always keeps the programs with the other conventions (the other base, and with open
        // conventions the other occurrence and both): the statement cannot rule those mistakes out, only the
        // examples (or the feedback) can. A stable sort, so nothing else moves.
        if (chain.Specs.Last().Positional)
            ordered = ordered.OrderBy(m => m.Kind == MutationKind.WrongFormat && m.Chain.Ops[^1].Name != chain.Ops[^1].Name ? 0 : 1).ToList();

        var kept = new List<Mutant>();
        var inputs = hidden.Select(t => t.Input).ToHashSet();
        foreach (var mutant in ordered)
        {
            if (kept.Count >= _difficulty.MaxIncorrectSolutions)
                break;
            if (!hidden.Any(t => Fails(mutant.Chain, t)))
            {
                if (hidden.Count >= _difficulty.MaxHiddenTests)
                    continue;
                var killer = pool.Concat(Enumerable.Range(0, 200).Select(_ => SampleCase(chain, domain, rng, small: false)))
                    .FirstOrDefault(c => Differs(chain, mutant.Chain, c));
                if (killer == null)
                    continue;
                var cases = chain.MultiCase ? SampleTest(chain, domain, rng, small: false) : [];
                if (cases.Count >= StatementWriter.MaxCases)
                    cases.RemoveAt(0);
                cases.Insert(rng.Next(cases.Count + 1), killer);
                var test = Build(chain, cases);
                if (!Fails(mutant.Chain, test) || !inputs.Add(test.Input))
                    continue;
                hidden.Add(test);
            }
            kept.Add(mutant);
        }
        return kept;
    }

    /// <summary>
    /// The examples: small random tests, the best of a few draws by how many kept incorrect solutions they expose and
    /// then by how many different answers they show (three examples that all print -1 explain nothing). They are
    /// not filtered to expose every bug: as in real contests, some bugs only show on the hidden tests.
    /// </summary>
    private List<BuiltTest> ChoosePublic(OpChain chain, Domain domain, Random rng, List<BuiltTest> hidden, List<OpChain> incorrect)
    {
        int count = rng.Next(_difficulty.MinPublicTests, _difficulty.MaxPublicTests + 1);
        var taken = hidden.Select(t => t.Input).ToHashSet();
        List<BuiltTest>? best = null;
        (int, int) bestScore = (-1, -1);
        for (int draw = 0; draw < PublicDraws; draw++)
        {
            var tests = MakeTests(chain, domain, rng, count, small: true, [.. taken]);
            var score = (incorrect.Count(m => tests.Any(t => Fails(m, t))),
                tests.SelectMany(t => t.Test.Output.Split('\n')).Distinct().Count());
            if (tests.Count > 0 && score.CompareTo(bestScore) > 0)
                (best, bestScore) = (tests, score);
        }
        return best ?? throw new InvalidOperationException($"no example could be drawn for {chain.Key}");
    }

    private const int PublicDraws = 3;

    /// <summary>
    /// A public test on which <paramref name="mutant"/> (the other occurrence) fails: one of <paramref name="drawn"/>
    /// or a new small one, where the two occurrences lie at least 2 apart: its mismatch then does not read like the
    /// other base's ("expected `3` but got `2`"), and a program with both conventions wrong fails it too (so it fails
    /// two public tests or more, as a wrong base does). Null if none turns up.
    /// </summary>
    private BuiltTest? SettlingTest(OpChain chain, Domain domain, Random rng, OpChain mutant, List<BuiltTest> drawn, HashSet<string> taken)
    {
        foreach (var test in drawn.Concat(Enumerable.Range(0, 200).Select(_ => Build(chain, SampleTest(chain, domain, rng, small: true)))))
        {
            if (!Fails(mutant, test))
                continue;
            if (!drawn.Contains(test) && taken.Contains(test.Input))
                continue;
            if (Gap(test.Test.Output, mutant.Run(test.Cases)) >= 2)
                return test;
        }
        return null;

        static long Gap(string expected, string actual) =>
            expected.Split('\n').Zip(actual.Split('\n'), (e, a) => long.TryParse(e, out long x) && long.TryParse(a, out long y) ? Math.Abs(x - y) : 0).Max();
    }

    /// <summary>Whether the mutant answers this one case differently (or would raise).</summary>
    private static bool Differs(OpChain chain, OpChain mutant, object testCase)
    {
        try
        {
            return !OutputTokens.Match(chain.Answer(testCase), mutant.Answer(testCase));
        }
        catch (PythonWouldRaise)
        {
            return true;
        }
    }

    /// <summary>Whether the mutant's output on this test differs from the expected one (or its Python would raise).</summary>
    private static bool Fails(OpChain mutant, BuiltTest test)
    {
        try
        {
            return !OutputTokens.Match(test.Test.Output, mutant.Run(test.Cases));
        }
        catch (PythonWouldRaise)
        {
            return true;
        }
    }
}

/// <summary>The CodeContests comparison for outputs made of integers and words: whitespace-split, lower-cased tokens.</summary>
public static class OutputTokens
{
    public static bool Match(string expected, string actual) =>
        Split(expected).SequenceEqual(Split(actual), StringComparer.Ordinal);

    private static IEnumerable<string> Split(string s) =>
        s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(t => t.ToLowerInvariant());
}
