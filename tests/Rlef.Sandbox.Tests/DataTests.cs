using System.IO.Compression;
using System.Text.Json;
using Rlef.Sandbox;
using Rlef.Tests;
using Xunit.Abstractions;

namespace Rlef.Sandbox.Tests;

/// <summary>Real benchmark data: canonical solutions must pass their own tests (skipped, naming the file, when the data is absent: RepoPaths.Data).</summary>
[Collection("pool")]
public class DataTests(PoolFixture f, ITestOutputHelper output)
{
    private static IEnumerable<JsonElement> ReadJsonLines(string gz)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(gz), CompressionMode.Decompress));
        while (reader.ReadLine() is { } line)
        {
            // evalplus writes NaN/Infinity literals that System.Text.Json refuses; those few records are skipped here.
            if (line.Contains("NaN", StringComparison.Ordinal) || line.Contains("Infinity", StringComparison.Ordinal))
                continue;
            using var doc = JsonDocument.Parse(line);
            yield return doc.RootElement.Clone();
        }
    }

    [DataFact("humaneval/HumanEval.jsonl.gz")]
    public async Task HumanEvalCanonicalSolutionsPassTheirChecks()
    {
        string file = RepoPaths.RequireData("humaneval/HumanEval.jsonl.gz");
        var problems = ReadJsonLines(file).ToList();
        var reports = await Task.WhenAll(problems.Select(p => f.Pool.RunAsync(new ExecutionRequest
        {
            Code = p.GetProperty("prompt").GetString() + p.GetProperty("canonical_solution").GetString(),
            Tests = [TestCase.Assert(p.GetProperty("test").GetString() + $"\ncheck({p.GetProperty("entry_point").GetString()})\n")],
            Limits = new ExecutionLimits { WallTimeSeconds = 20, CpuTimeSeconds = 20 },
        })));
        var failed = problems.Zip(reports).Where(x => !x.Second.AllPassed)
            .Select(x => $"{x.First.GetProperty("task_id").GetString()}: {x.Second.Results[0].Verdict} {x.Second.Results[0].Error}").ToList();
        output.WriteLine($"{problems.Count - failed.Count}/{problems.Count} canonical solutions passed");
        Assert.True(problems.Count >= 160, $"only {problems.Count} problems read");
        Assert.Empty(failed);
    }

    [DataFact("humanevalplus/HumanEvalPlus.jsonl.gz")]
    public async Task HumanEvalPlusValuesRoundTripThroughTheEncoding()
    {
        // Capture the canonical solution's values (ExpectedValue = null), then judge the same solution against
        // them: every value must parse and compare equal to itself, floats, tuples, sets and all.
        string file = RepoPaths.RequireData("humanevalplus/HumanEvalPlus.jsonl.gz");
        var problems = ReadJsonLines(file).Take(40).ToList();
        int[] counts = await Task.WhenAll(problems.Select(async p =>
        {
            string code = p.GetProperty("prompt").GetString() + p.GetProperty("canonical_solution").GetString();
            string entry = p.GetProperty("entry_point").GetString()!;
            double atol = p.GetProperty("atol").ValueKind == JsonValueKind.Number ? p.GetProperty("atol").GetDouble() : 0;
            var tests = p.GetProperty("base_input").EnumerateArray().Select(a => TestCase.Call(entry, a.GetRawText(), null, atol)).ToList();
            if (tests.Count == 0)
                return 0;
            var captured = await f.Pool.RunAsync(new ExecutionRequest { Code = code, Tests = tests });
            Assert.True(captured.AllPassed, $"{p.GetProperty("task_id")}: {captured.Results.FirstOrDefault(r => r.Verdict != Verdict.Passed)}");
            var judged = await f.Pool.RunAsync(new ExecutionRequest
            {
                Code = code,
                Tests = tests.Zip(captured.Results, (t, r) => t with { ExpectedValue = r.Actual }).ToList(),
            });
            Assert.True(judged.AllPassed, $"{p.GetProperty("task_id")}: {judged.Results.FirstOrDefault(r => r.Verdict != Verdict.Passed)}");
            return tests.Count;
        }));
        int values = counts.Sum();
        output.WriteLine($"{values} values of {problems.Count} problems round-tripped");
    }
}
