using System.Text.Json;
using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>
/// evalplus data holds inputs but no outputs: the expected value of each call test is what the canonical solution
/// returns. They are computed once in the sandbox (call tests with ExpectedValue = null capture the value) and
/// cached on disk under a key made of the data file's SHA-256, so a changed file never reuses stale values.
/// An input on which the canonical solution itself fails is dropped from the problem and reported in
/// <see cref="Result.Dropped"/>, never silently.
/// </summary>
public static class ExpectedValues
{
    public sealed record Result(IReadOnlyList<Problem> Problems, IReadOnlyList<string> Dropped, bool FromCache);

    /// <summary>Bump when the way tests are built changes, so old caches are not reused.</summary>
    private const int FormatVersion = 1;

    public static string DefaultCacheDirectory =>
        Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache", "rlef", "expected");

    public static async Task<Result> FillAsync(
        IReadOnlyList<Problem> problems, string dataPath, ICodeExecutor executor, string? cacheDirectory = null,
        int parallelism = 4, Action<int, int>? progress = null, CancellationToken cancellationToken = default)
    {
        string cacheFile = Path.Combine(cacheDirectory ?? DefaultCacheDirectory, $"{DataFile.Sha256(dataPath)}.v{FormatVersion}.json");
        // The cache holds problems computed so far (a --limit run computes only its subset); missing ones are added.
        var cache = File.Exists(cacheFile) ? Read(cacheFile) : new Dictionary<string, Entry>();
        var missing = problems.Where(p => !cache.ContainsKey(p.Id)).ToList();
        bool fromCache = missing.Count == 0;
        if (!fromCache)
        {
            foreach (var (id, entry) in await ComputeAsync(missing, executor, parallelism, progress, cancellationToken))
                cache[id] = entry;
            Directory.CreateDirectory(Path.GetDirectoryName(cacheFile)!);
            string temp = cacheFile + "." + System.Environment.ProcessId + ".tmp";
            await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(cache, ReadableJson.Options), cancellationToken);
            File.Move(temp, cacheFile, overwrite: true);
        }

        var filled = new List<Problem>();
        var dropped = new List<string>();
        foreach (var problem in problems)
        {
            if (!cache.TryGetValue(problem.Id, out var entry) || entry.Values.Count != problem.PrivateTests.Count)
                throw new InvalidDataException($"{cacheFile}: no or mismatching expected values for {problem.Id}; delete the file to recompute");
            var tests = new List<ProblemTest>();
            for (int i = 0; i < problem.PrivateTests.Count; i++)
            {
                var test = problem.PrivateTests[i];
                if (entry.Values[i] is { } value)
                    tests.Add(test with { Case = test.Case with { ExpectedValue = value } });
                else
                    dropped.Add($"{problem.Id} {test.Display}: the canonical solution fails ({entry.Failures[i]})");
            }
            filled.Add(problem with { PrivateTests = tests });
        }
        return new Result(filled, dropped, fromCache);
    }

    /// <summary>Per problem: the captured value of each call test, null where the canonical solution failed.</summary>
    private sealed record Entry(List<string?> Values, List<string?> Failures);

    private static async Task<Dictionary<string, Entry>> ComputeAsync(
        IReadOnlyList<Problem> problems, ICodeExecutor executor, int parallelism, Action<int, int>? progress, CancellationToken ct)
    {
        var results = new Dictionary<string, Entry>();
        int done = 0;
        await Parallel.ForEachAsync(problems, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = ct }, async (problem, token) =>
        {
            if (problem.CanonicalSolution is null)
                throw new InvalidDataException($"{problem.Id}: no canonical solution to compute expected values with");
            var request = new ExecutionRequest
            {
                Code = problem.CodePrefix + problem.CanonicalSolution + problem.CodeSuffix,
                Tests = problem.PrivateTests.Select(t => t.Case with { ExpectedValue = null }).ToList(),
                Comparison = problem.Comparison,
                Limits = problem.Limits,
            };
            var report = await executor.RunAsync(request, token);
            if (report.Results.Count != request.Tests.Count)
                throw new InvalidOperationException($"{problem.Id}: the sandbox returned {report.Results.Count} results for {request.Tests.Count} tests");
            var entry = new Entry(
                report.Results.Select(r => r.Verdict == Verdict.Passed ? r.Actual : null).ToList(),
                report.Results.Select(r => r.Verdict == Verdict.Passed ? null : $"{r.Verdict.ToName()}: {FirstLine(r.Error)}").ToList());
            lock (results)
            {
                results[problem.Id] = entry;
                progress?.Invoke(++done, problems.Count);
            }
        });
        return results;
    }

    private static string FirstLine(string? s) => s is null ? "" : s.Trim().Split('\n')[^1];

    private static Dictionary<string, Entry> Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, Entry>>(File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty expected-value cache");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: unreadable expected-value cache ({e.Message}); delete it to recompute", e);
        }
    }
}
