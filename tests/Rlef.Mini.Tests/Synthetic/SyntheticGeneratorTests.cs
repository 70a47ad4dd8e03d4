using System.Text.Json;
using Rlef.Mini.Synthetic;
using Xunit.Abstractions;

namespace Rlef.Mini.Tests.Synthetic;

public sealed class SyntheticGeneratorTests(ITestOutputHelper output)
{
    private static readonly Lazy<SyntheticSplits> Medium = new(() => SyntheticDataset.GenerateSplits(7, 120, 30, 60, Difficulty.Medium));

    [Fact]
    public void Same_seed_gives_identical_files_and_another_seed_different_ones()
    {
        static string Serialise(SyntheticSplits s) =>
            string.Join("\n", s.All.SelectMany(x => x.Problems).Select(p => CodeContestsRecord.From(p).ToJson()));

        var again = SyntheticDataset.GenerateSplits(7, 120, 30, 60, Difficulty.Medium);
        Assert.Equal(Serialise(Medium.Value), Serialise(again));

        var other = SyntheticDataset.GenerateSplits(8, 120, 30, 60, Difficulty.Medium);
        Assert.NotEqual(Serialise(Medium.Value), Serialise(other));
    }

    [Fact]
    public void Test_split_does_not_depend_on_the_train_size()
    {
        var small = SyntheticDataset.GenerateSplits(7, 10, 30, 60, Difficulty.Medium);
        Assert.Equal(Medium.Value.Test.Select(p => p.Description), small.Test.Select(p => p.Description));
    }

    [Fact]
    public void Splits_share_no_task_and_train_never_sees_a_held_out_shape()
    {
        var s = Medium.Value;
        var keys = s.All.SelectMany(x => x.Problems).Select(p => p.Chain.Key).ToList();
        Assert.Equal(keys.Count, keys.Distinct().Count());
        Assert.Equal(120 + 30 + 60, keys.Count);

        Assert.DoesNotContain(s.Train, p => p.HeldOutStructure);
        var trainShapes = s.Train.Select(p => p.Chain.StructureKey).ToHashSet();
        Assert.All(s.Test.Where(p => p.HeldOutStructure), p => Assert.DoesNotContain(p.Chain.StructureKey, trainShapes));
        var heldOut = s.Test.Count(p => p.HeldOutStructure) + s.Valid.Count(p => p.HeldOutStructure);
        output.WriteLine($"valid+test problems with a shape never seen in train: {heldOut} of {s.Valid.Count + s.Test.Count}");
        var names = s.All.SelectMany(x => x.Problems).Select(p => p.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Fact]
    public void Problems_have_the_promised_shape_and_lengths()
    {
        var all = Medium.Value.All.SelectMany(x => x.Problems).ToList();
        foreach (var p in all)
        {
            Assert.InRange(p.PublicTests.Count, 1, 3);
            Assert.InRange(p.HiddenTests.Count, 8, 20);
            Assert.InRange(p.IncorrectSolutions.Count, 1, Difficulty.Medium.MaxIncorrectSolutions);
            Assert.DoesNotContain(p.IncorrectSolutions, s => s.Code == p.Solution);
            var inputs = p.PublicTests.Concat(p.HiddenTests).Select(t => t.Input).ToList();
            Assert.Equal(inputs.Count, inputs.Distinct().Count());
            Assert.All(inputs, i => Assert.EndsWith("\n", i));

            string task = p.Description[..p.Description.IndexOf("\n\nExample", StringComparison.Ordinal)];
            Assert.True(task.Length <= StatementWriter.MaxLength, $"{p.Name}: statement of {task.Length} characters:\n{task}");
            Assert.True(p.Description.Length <= 800, $"{p.Name}: description of {p.Description.Length} characters");
            Assert.True(p.Solution.Length <= 300, $"{p.Name}: solution of {p.Solution.Length} characters:\n{p.Solution}");
            Assert.All(p.Description, c => Assert.True(c == '\n' || (c >= ' ' && c < 127), $"{p.Name}: non-ASCII character in the statement"));
            Assert.Contains("\n\nInput\n\n", p.Description);
            Assert.Contains("\n\nOutput\n\n", p.Description);
            foreach (var t in p.PublicTests)
                Assert.Contains(t.Input, p.Description);
        }
        static string Stats(IEnumerable<int> xs) { var l = xs.Order().ToList(); return $"median {l[l.Count / 2]}, max {l[^1]}"; }
        var statements = all.Select(p => p.Description.IndexOf("\n\nExample", StringComparison.Ordinal)).ToList();
        output.WriteLine($"statement (without examples): {Stats(statements)}, over 400: {statements.Count(n => n > 400)} of {all.Count}");
        output.WriteLine($"description: {Stats(all.Select(p => p.Description.Length))}; solution: {Stats(all.Select(p => p.Solution.Length))}");
    }

    [Fact]
    public void Incorrect_solutions_are_single_bug_mutants_of_the_reference()
    {
        // Each incorrect solution is one of the mutants the Mutator derives from the chain (one bug, not noise);
        // SyntheticPythonTests checks with python3 that each fails a hidden test.
        foreach (var p in Medium.Value.Test)
        {
            var mutants = Mutator.Enumerate(p.Chain, p.Domain).ToDictionary(m => m.Chain.ToPython(), m => m.Chain);
            foreach (var bad in p.IncorrectSolutions)
            {
                Assert.True(mutants.TryGetValue(bad.Code, out _), $"{p.Name}: incorrect solution is not a mutant of the chain");
            }
        }
    }

    [Fact]
    public void Jsonl_round_trips_with_the_codecontests_field_names()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"rlef-synthetic-{Guid.NewGuid():N}");
        try
        {
            var splits = SyntheticDataset.GenerateSplits(3, 5, 2, 3, Difficulty.Easy);
            var paths = SyntheticDataset.WriteSplits(splits, dir);
            Assert.Equal(["train.jsonl", "valid.jsonl", "test.jsonl"], paths.Select(Path.GetFileName));

            var lines = File.ReadAllLines(paths[2]);
            Assert.Equal(3, lines.Length);
            using var doc = JsonDocument.Parse(lines[0]);
            var fields = doc.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
            string[] schema =
            [
                "name", "description", "public_tests", "private_tests", "generated_tests", "source", "difficulty", "solutions",
                "incorrect_solutions", "cf_contest_id", "cf_index", "cf_points", "cf_rating", "cf_tags", "is_description_translated",
                "untranslated_description", "time_limit", "memory_limit_bytes", "input_file", "output_file",
            ];
            Assert.Equal(schema.Order(), fields.Order());
            var root = doc.RootElement;
            Assert.Equal(3, root.GetProperty("solutions").GetProperty("language")[0].GetInt32());
            Assert.Equal(2, root.GetProperty("time_limit").GetProperty("seconds").GetInt64());
            Assert.Equal(0, root.GetProperty("time_limit").GetProperty("nanos").GetInt32());
            Assert.Equal(256L << 20, root.GetProperty("memory_limit_bytes").GetInt64());
            Assert.Equal(splits.Test[0].PublicTests[0].Input, root.GetProperty("public_tests").GetProperty("input")[0].GetString());

            var records = SyntheticDataset.ReadJsonl(paths[2]);
            Assert.Equal(splits.Test.Select(CodeContestsRecord.From).Select(r => r.ToJson()), records.Select(r => r.ToJson()));
            Assert.Equal(splits.Test[1].HiddenTests.Select(t => t.Output), records[1].PrivateTests.Output);
            Assert.All(records, r => Assert.Equal(r.IncorrectSolutions.Solution.Count, r.IncorrectSolutions.Language.Count));

            var meta = File.ReadAllLines(Path.Combine(dir, "test.meta.jsonl"));
            Assert.Equal(3, meta.Length);
            Assert.Matches("\"incorrect_kinds\":\\[\"[a-z_]+\"", meta[0]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bad_jsonl_line_is_reported_with_file_and_line()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlef-bad-{Guid.NewGuid():N}.jsonl");
        try
        {
            File.WriteAllText(path, CodeContestsRecord.From(SyntheticDataset.GenerateSplits(1, 0, 0, 1, Difficulty.Easy).Test[0]).ToJson() + "\n{\"name\": 3}\n");
            var e = Assert.Throws<FormatException>(() => SyntheticDataset.ReadJsonl(path));
            Assert.Contains($"{path}:2", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(7, 2, 3, 1)]
    [InlineData(-7, 2, -4, 1)]
    [InlineData(-6, 3, -2, 0)]
    [InlineData(7, -2, -4, -1)]
    public void Integer_division_and_modulo_follow_python(long x, long k, long div, long mod)
    {
        Assert.Equal(div, OpCatalog.FloorDiv(x, k));
        Assert.Equal(mod, OpCatalog.FloorMod(x, k));
    }

    [Fact]
    public void Difficulty_knobs_change_the_problems()
    {
        var easy = SyntheticDataset.GenerateSplits(11, 0, 0, 80, Difficulty.Easy).Test;
        var hard = SyntheticDataset.GenerateSplits(11, 0, 0, 80, Difficulty.Hard).Test;
        static int Steps(SyntheticProblem p) => p.Chain.Specs.Count(s => s.Role == OpRole.Step);
        Assert.All(easy, p => Assert.InRange(Steps(p), 1, 2));
        Assert.All(hard, p => Assert.InRange(Steps(p), 2, 4));
        Assert.True(hard.Count(p => p.Chain.MultiCase) > easy.Count(p => p.Chain.MultiCase));
        Assert.True(hard.Count(p => p.Domain.HasNegatives) > easy.Count(p => p.Domain.HasNegatives));
        Assert.Throws<ArgumentException>(() => new ProblemGenerator(new Difficulty { MinSteps = 3, MaxSteps = 2 }));
    }

    [Fact]
    public void Position_knob_adds_problems_whose_base_only_the_examples_show()
    {
        var easy = SyntheticDataset.GenerateSplits(11, 0, 0, 60, Difficulty.Easy).Test;
        var off = SyntheticDataset.GenerateSplits(11, 0, 0, 60, Difficulty.FromName("easy:position=0")).Test;
        Assert.Equal(easy.Select(p => p.Description), off.Select(p => p.Description));   // the knob at 0 draws nothing
        Assert.DoesNotContain(easy, p => p.Chain.Specs.Last().Positional);

        var on = SyntheticDataset.GenerateSplits(11, 0, 0, 120, Difficulty.FromName("easy:position=1")).Test;
        var positional = on.Where(p => p.Chain.Specs.Last().Positional).ToList();
        Assert.Equal(on.Count(p => p.Chain.Family != Family.Numbers), positional.Count);
        var oneBased = positional.Count(p => !p.Chain.Ops[^1].Name.EndsWith('0'));
        Assert.InRange(oneBased, positional.Count / 2, positional.Count - 1);             // both bases, mostly from 1
        foreach (var p in positional)
        {
            Assert.Contains("the position of", p.Description);
            Assert.DoesNotContain("based", p.Description);
            Assert.Contains(p.IncorrectSolutions, s => s.Kind == MutationKind.WrongFormat);
        }
    }

    [Fact]
    public void Open_conventions_leave_the_occurrence_to_a_public_test_the_statement_does_not_show()
    {
        var closed = SyntheticDataset.GenerateSplits(11, 0, 0, 60, Difficulty.FromName("easy:position=1")).Test;
        var zero = SyntheticDataset.GenerateSplits(11, 0, 0, 60, Difficulty.FromName("easy:position=1,open=0")).Test;
        Assert.Equal(closed.Select(p => p.Description), zero.Select(p => p.Description));   // the knob at 0 draws nothing

        var on = SyntheticDataset.GenerateSplits(11, 0, 0, 120, Difficulty.FromName("easy:position=1,open=1")).Test;
        var open = on.Where(p => p.Chain.Specs.Last().OpenConventions).ToList();
        Assert.Equal(on.Count(p => p.Chain.Family != Family.Numbers), open.Count);
        Assert.Contains(open, p => p.Chain.Ops[^1].Name.Contains("_last"));
        Assert.Contains(open, p => p.Chain.Ops[^1].Name.Contains("_first"));
        foreach (var p in open)
        {
            Assert.DoesNotContain("first one", p.Description);
            Assert.DoesNotContain("last one", p.Description);
            // The three other conventions are kept as wrong-format programs.
            Assert.Equal(3, p.IncorrectSolutions.Count(s => s.Kind == MutationKind.WrongFormat && !s.Change.Contains("test case")));
            // The last public test settles the occurrence and is not among the statement's examples; the others are.
            var other = p.Chain with { Ops = [.. p.Chain.Ops.SkipLast(1), p.Chain.Ops[^1] with { Name = OpCatalog.OtherOccurrence(p.Chain.Ops[^1].Name) }] };
            var settling = p.PublicTests[^1];
            Assert.DoesNotContain("Input\n\n" + settling.Input + "\nOutput", p.Description);
            Assert.NotEqual(settling.Output, RunOn(other, settling.Input));
            Assert.True(p.PublicTests.Count >= 2);
            // A shown example answers with a position, so a wrong base fails it as well as the settling test.
            Assert.Contains(p.PublicTests.SkipLast(1), t => t.Output.Split('\n').Any(line => line.Trim() is { Length: > 0 } and not "-1"));
            foreach (var shown in p.PublicTests.SkipLast(1))
            {
                Assert.Contains("Input\n\n" + shown.Input + "\nOutput\n\n" + shown.Output.TrimEnd('\n'), p.Description);
                Assert.Equal(shown.Output, RunOn(other, shown.Input));
            }
        }

        // The chain evaluated in C# on a rendered input (list or text family: the only ones with positions).
        static string RunOn(OpChain chain, string input)
        {
            var lines = new Queue<string>(input.Split('\n'));
            int t = chain.MultiCase ? int.Parse(lines.Dequeue()) : 1;
            var cases = new List<object>();
            for (int i = 0; i < t; i++)
            {
                if (chain.Family == Family.Text) { cases.Add(lines.Dequeue()); continue; }
                lines.Dequeue();
                cases.Add(lines.Dequeue().Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray());
            }
            return chain.Run(cases);
        }
    }

    [Fact]
    public void Report_diversity_and_samples()
    {
        var all = Medium.Value.All.SelectMany(x => x.Problems).ToList();
        output.WriteLine($"{all.Count} problems: {all.Select(p => p.Chain.Key).Distinct().Count()} distinct chains, " +
            $"{all.Select(p => p.Chain.StructureKey).Distinct().Count()} distinct shapes; families " +
            string.Join(", ", all.GroupBy(p => p.Chain.Family).Select(g => $"{g.Key} {g.Count()}")) +
            $"; multi-case {all.Count(p => p.Chain.MultiCase)}");
        output.WriteLine("incorrect solutions by kind: " + string.Join(", ",
            all.SelectMany(p => p.IncorrectSolutions).GroupBy(s => s.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
        Assert.True(all.Select(p => p.Chain.StructureKey).Distinct().Count() > all.Count / 2, "too few distinct shapes");
        foreach (var p in Medium.Value.Test.Take(3))
            output.WriteLine($"---- {p.Name} [{p.Chain.Key}]\n{p.Description}\n-- solution\n{p.Solution}-- incorrect ({p.IncorrectSolutions[0].Kind}: {p.IncorrectSolutions[0].Change})\n{p.IncorrectSolutions[0].Code}");
    }
}
