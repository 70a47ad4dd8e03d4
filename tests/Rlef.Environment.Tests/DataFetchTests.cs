using Parquet.Serialization;
using Rlef.Environment.Datasets;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Tests;

/// <summary>
/// `rlef data fetch` against a local HTTP server and a mirror folder laid out like the cache: parquet written here
/// with Parquet.Net, resumption of a cut transfer, checksums pinned, recorded and violated, no network.
/// </summary>
public sealed class DataFetchTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-fetch-").FullName;
    private string Mirror => Path.Combine(_dir, "mirror");
    private string Cache => Path.Combine(_dir, "cache");
    private LocalFileServer _server = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(Mirror, "codecontests"));
        Directory.CreateDirectory(Path.Combine(Mirror, "humaneval"));
        Directory.CreateDirectory(Path.Combine(Mirror, "livecodebench"));
        await WriteCodeContestsParquet(Path.Combine(Mirror, "codecontests", "test.parquet"), "1575_A. Sum", 3);
        await WriteCodeContestsParquet(Path.Combine(Mirror, "codecontests", "valid.parquet"), "1500_B. Sum again", 2);
        await WriteHumanEvalParquet(Path.Combine(Mirror, "humaneval", "test.parquet"));
        File.WriteAllLines(Path.Combine(Mirror, "livecodebench", "test.jsonl"), [LiveCodeBenchRecords.Stdin("a")]);
        File.WriteAllLines(Path.Combine(Mirror, "livecodebench", "test2.jsonl"), [LiveCodeBenchRecords.Stdin("b", "2024-03-01T00:00:00")]);
        _server = await LocalFileServer.StartAsync(Mirror);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    // The Hugging Face schema of deepmind/code_contests (the fields the loader reads, as parquet structs and lists).
    public sealed class Tests { public List<string> input { get; set; } = []; public List<string> output { get; set; } = []; }
    public sealed class Solutions { public List<int> language { get; set; } = []; public List<string> solution { get; set; } = []; }
    public sealed class Duration { public long seconds { get; set; } public int nanos { get; set; } }
    public sealed class ContestProblem
    {
        public string name { get; set; } = "";
        public string description { get; set; } = "";
        public Tests public_tests { get; set; } = new();
        public Tests private_tests { get; set; } = new();
        public Tests generated_tests { get; set; } = new();
        public Solutions solutions { get; set; } = new();
        public Duration? time_limit { get; set; }
        public long memory_limit_bytes { get; set; }
    }

    public sealed class HumanEvalRow
    {
        public string task_id { get; set; } = "";
        public string prompt { get; set; } = "";
        public string canonical_solution { get; set; } = "";
        public string test { get; set; } = "";
        public string entry_point { get; set; } = "";
    }

    private static async Task WriteCodeContestsParquet(string path, string name, int problems)
    {
        var rows = Enumerable.Range(0, problems).Select(i => new ContestProblem
        {
            name = $"{name} {i}",
            description = "Print the sum of two integers.",
            public_tests = new Tests { input = ["1 2\n"], output = ["3\n"] },
            private_tests = new Tests { input = ["5 5\n", "0 0\n"], output = ["10\n", "0\n"] },
            generated_tests = new Tests(),
            solutions = new Solutions { language = [2, 3], solution = ["int main(){}", "print(sum(map(int, input().split())))"] },
            time_limit = i == 0 ? null : new Duration { seconds = 2 },
            memory_limit_bytes = 256L << 20,
        }).ToList();
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeAsync(rows, stream);
    }

    private static async Task WriteHumanEvalParquet(string path)
    {
        var rows = new[]
        {
            new HumanEvalRow
            {
                task_id = "HumanEval/0", prompt = "def add(a, b):\n    \"\"\"Add.\"\"\"\n", canonical_solution = "    return a + b\n",
                test = "def check(candidate):\n    assert candidate(1, 2) == 3\n", entry_point = "add",
            },
        };
        await using var stream = File.Create(path);
        await ParquetSerializer.SerializeAsync(rows, stream);
    }

    private DataFetcher Fetcher(string? mirror = null, IReadOnlyList<string>? splits = null, int attempts = 3) =>
        new(new FetchOptions { Root = Cache, Mirror = mirror ?? _server.BaseUrl.ToString(), Splits = splits, Attempts = attempts, ConnectTimeout = TimeSpan.FromSeconds(5) });

    [Fact]
    public async Task ParquetFromAServerIsCheckedConvertedAndFoundByEval()
    {
        using (var fetcher = Fetcher())
        {
            var result = await fetcher.FetchAsync(DatasetCatalog.Find("codecontests"));
            Assert.Equal(["test.parquet", "valid.parquet"], result.Files.Select(f => f.Name));
            Assert.All(result.Files, f => Assert.Equal("downloaded, checksum recorded", f.Status));
            Assert.Equal([3, 2], result.Files.Select(f => f.Rows));
        }
        string folder = Path.Combine(Cache, "codecontests");
        var sums = DataCache.ReadChecksums(folder);
        Assert.Equal(DataCache.Sha256(Path.Combine(Mirror, "codecontests", "test.parquet")), sums["test.parquet"]);

        string evalPath = DataCache.EvalPath(ProblemFamily.CodeContests, Cache);
        Assert.Equal(Path.Combine(folder, "test.jsonl"), evalPath);
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, evalPath);
        Assert.Equal(["1575_A. Sum 0", "1575_A. Sum 1", "1575_A. Sum 2"], problems.Select(p => p.Id));
        Assert.Equal(["3\n"], problems[0].PublicTests.Select(t => t.Case.ExpectedOutput));
        Assert.Equal(2, problems[0].PrivateTests.Count);
        Assert.Equal("print(sum(map(int, input().split())))", problems[0].CanonicalSolution);
        Assert.Equal(10, problems[0].Limits.CpuTimeSeconds); // a null time_limit keeps the default
        Assert.Equal(2, problems[1].Limits.CpuTimeSeconds);
        Assert.Equal(256, problems[1].Limits.MemoryMb);
        // The parquet file loads directly too, to the same problems.
        static string Shape(Problem p) => $"{p.Id} {p.Limits} {p.CanonicalSolution} " + string.Join(" ", p.AllTests.Select(t => t.Case.ToString()));
        Assert.Equal(problems.Select(Shape), DatasetLoader.Load(ProblemFamily.CodeContests, Path.Combine(folder, "test.parquet")).Select(Shape));

        // A second fetch verifies the cached files and asks the server for nothing.
        int requests = _server.Requests.Count;
        using (var again = Fetcher())
        {
            var result = await again.FetchAsync(DatasetCatalog.Find("codecontests"));
            Assert.All(result.Files, f => Assert.Equal("cached, checksum verified", f.Status));
        }
        Assert.Equal(requests, _server.Requests.Count);
    }

    [Fact]
    public async Task ACutTransferResumesWithARangeRequest()
    {
        long size = new FileInfo(Path.Combine(Mirror, "codecontests", "test.parquet")).Length;
        _server.CutAfterBytes = size / 2;
        var reports = new List<FetchProgress>();
        using (var fetcher = Fetcher(splits: ["test"]))
        {
            var file = Assert.Single((await fetcher.FetchAsync(DatasetCatalog.Find("codecontests"), new SyncProgress(reports.Add))).Files);
            Assert.Equal(DataCache.Sha256(Path.Combine(Mirror, "codecontests", "test.parquet")), file.Sha256);
        }
        // The progress display hears of the break, of the resumption from the bytes kept, and of the whole size.
        Assert.Contains(reports, r => r.State.StartsWith("transfer broke off", StringComparison.Ordinal));
        Assert.Contains(reports, r => r.State == "resuming" && r.Done == size / 2 && r.Total == size);
        Assert.Contains(reports, r => r.State == "fetched" && r.Done == size);
        var requests = _server.Requests.Where(r => r.Path == "codecontests/test.parquet").ToList();
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].Range);
        Assert.Equal($"bytes={size / 2}-", requests[1].Range);
        Assert.Equal(206, requests[1].Status);
        Assert.False(File.Exists(Path.Combine(Cache, "codecontests", "test.parquet.part")));
    }

    [Fact]
    public async Task ABrokenTransferKeepsItsPartAndTheNextFetchAsksForTheRest()
    {
        long size = new FileInfo(Path.Combine(Mirror, "humaneval", "test.parquet")).Length;
        _server.CutAfterBytes = 100;
        using (var fetcher = Fetcher(attempts: 1))
        {
            var e = await Assert.ThrowsAsync<DownloadException>(() => fetcher.FetchAsync(DatasetCatalog.Find("humaneval")));
            Assert.Contains("rerun to resume", e.Message);
        }
        Assert.Equal(100, new FileInfo(Path.Combine(Cache, "humaneval", "test.parquet.part")).Length);
        using (var fetcher = Fetcher(attempts: 1))
        {
            var file = Assert.Single((await fetcher.FetchAsync(DatasetCatalog.Find("humaneval"))).Files);
            Assert.Equal("downloaded (resumed), checksum recorded", file.Status);
        }
        Assert.Equal(["bytes=100-"], _server.Requests.Where(r => r.Path == "humaneval/test.parquet").Skip(1).Select(r => r.Range));
        Assert.Equal(size, new FileInfo(Path.Combine(Cache, "humaneval", "test.parquet")).Length);
        // HumanEval's parquet has the JSON release's fields: the converted file loads with the same loader.
        var problem = Assert.Single(DatasetLoader.Load(ProblemFamily.HumanEval, DataCache.EvalPath(ProblemFamily.HumanEval, Cache)));
        Assert.Equal(("HumanEval/0", "add"), (problem.Id, problem.EntryPoint));
    }

    [Fact]
    public async Task APartThatIsAlreadyWholeIsKeptAndAServerWithoutRangesStartsOver()
    {
        string source = Path.Combine(Mirror, "humaneval", "test.parquet");
        string part = Path.Combine(Cache, "humaneval", "test.parquet.part");
        Directory.CreateDirectory(Path.GetDirectoryName(part)!);
        File.Copy(source, part);
        using (var fetcher = Fetcher())
            Assert.Equal("downloaded (resumed), checksum recorded", Assert.Single((await fetcher.FetchAsync(DatasetCatalog.Find("humaneval"))).Files).Status);
        Assert.Equal(416, _server.Requests.Last().Status); // "Range Not Satisfiable": nothing is left to send

        // A server that ignores the range sends the whole file: the stale bytes of the part must not stay in front.
        string folder = Path.Combine(Cache, "humaneval");
        File.Delete(Path.Combine(folder, "test.parquet"));
        File.WriteAllBytes(part, new byte[100]);
        _server.IgnoreRanges = true;
        using (var fetcher = Fetcher())
            Assert.Equal("downloaded (resumed), checksum verified", Assert.Single((await fetcher.FetchAsync(DatasetCatalog.Find("humaneval"))).Files).Status);
        Assert.Equal(("bytes=100-", 200), (_server.Requests.Last().Range, _server.Requests.Last().Status));
        Assert.Equal(DataCache.Sha256(source), DataCache.Sha256(Path.Combine(folder, "test.parquet")));
    }

    [Fact]
    public async Task AChecksumMismatchDeletesTheDownloadAndSaysSo()
    {
        // A recorded checksum that the served file does not match (the file changed upstream, or was tampered with).
        string folder = Path.Combine(Cache, "humaneval");
        Directory.CreateDirectory(folder);
        DataCache.WriteChecksums(folder, new Dictionary<string, string> { ["test.parquet"] = new string('0', 64) });
        using (var fetcher = Fetcher())
        {
            var e = await Assert.ThrowsAsync<ChecksumMismatchException>(() => fetcher.FetchAsync(DatasetCatalog.Find("humaneval")));
            Assert.Equal(new string('0', 64), e.Expected);
            Assert.Equal(DataCache.Sha256(Path.Combine(Mirror, "humaneval", "test.parquet")), e.Actual);
            Assert.Contains("humaneval/test.parquet", e.Message);
        }
        Assert.Empty(Directory.GetFiles(folder, "test.parquet*"));

        // A pinned checksum (evalplus' release asset) against a different file.
        Directory.CreateDirectory(Path.Combine(Mirror, "humanevalplus"));
        await File.WriteAllTextAsync(Path.Combine(Mirror, "humanevalplus", "HumanEvalPlus.jsonl.gz"), "not the release");
        using (var fetcher = Fetcher())
        {
            var e = await Assert.ThrowsAsync<ChecksumMismatchException>(() => fetcher.FetchAsync(DatasetCatalog.Find("humanevalplus")));
            Assert.Equal(DatasetCatalog.Find("humanevalplus").Files[0].Sha256, e.Expected);
        }
        Assert.False(File.Exists(Path.Combine(Cache, "humanevalplus", "HumanEvalPlus.jsonl.gz")));
    }

    [Fact]
    public async Task AMirrorFolderServesTheSameLayout()
    {
        using (var fetcher = Fetcher(mirror: Mirror, splits: ["v1", "v2"]))
        {
            var result = await fetcher.FetchAsync(DatasetCatalog.Find("livecodebench"));
            Assert.Equal(["copied, checksum recorded", "copied, checksum recorded"], result.Files.Select(f => f.Status));
        }
        string evalPath = DataCache.EvalPath(ProblemFamily.LiveCodeBench, Cache);
        Assert.Equal(Path.Combine(Cache, "livecodebench"), evalPath);
        Assert.Equal(["a", "b"], DatasetLoader.Load(ProblemFamily.LiveCodeBench, evalPath).Select(p => p.Id));
        Assert.Equal(["b"], DatasetLoader.Load(ProblemFamily.LiveCodeBench, evalPath, liveCodeBench: new LiveCodeBenchSelection { Release = "v2" }).Select(p => p.Id));
        Assert.Empty(_server.Requests);

        // The cache itself is a mirror: a second machine fetches from a copy of it (here, the same folder).
        string other = Path.Combine(_dir, "other");
        using var second = new DataFetcher(new FetchOptions { Root = other, Mirror = "file://" + Cache, Splits = ["v1"] });
        Assert.Equal("copied, checksum recorded", Assert.Single((await second.FetchAsync(DatasetCatalog.Find("livecodebench"))).Files).Status);
    }

    [Fact]
    public async Task WithoutNetworkTheFetchFailsNamingTheUrlAndTheMirrorOption()
    {
        // A closed port on this machine stands for an unreachable host.
        using var fetcher = Fetcher(mirror: "http://127.0.0.1:1");
        var e = await Assert.ThrowsAsync<DownloadException>(() => fetcher.FetchAsync(DatasetCatalog.Find("mbpp")));
        Assert.Contains("http://127.0.0.1:1/mbpp/test.parquet", e.Message);
        Assert.Contains("--mirror URL|DIR", e.Message);
    }

    [Fact]
    public async Task BadParquetAndBadRowsAreErrorsNamingTheFileAndRecord()
    {
        string junk = Path.Combine(_dir, "junk.parquet");
        File.WriteAllBytes(junk, [.. "PAR1"u8, .. new byte[64], .. "PAR1"u8]);
        var e = Assert.Throws<DatasetFormatException>(() => DataFile.ReadRecords(junk).ToList());
        Assert.Contains("not a readable parquet file", e.Message);
        Assert.Equal(junk, e.Path);

        // A row the loader cannot use: a CodeContests problem whose public tests have more inputs than outputs.
        string path = Path.Combine(_dir, "bad.parquet");
        var rows = new[] { new ContestProblem { name = "ok", description = "d", public_tests = new Tests { input = ["1"], output = ["1"] } },
                           new ContestProblem { name = "bad", description = "d", public_tests = new Tests { input = ["1", "2"], output = ["1"] } } };
        await using (var stream = File.Create(path))
            await ParquetSerializer.SerializeAsync(rows, stream, new Parquet.ParquetOptions { RowGroupSize = 1 });
        var bad = Assert.Throws<DatasetFormatException>(() => CodeContestsLoader.Load(path));
        Assert.Equal((path, 2, "public_tests"), (bad.Path, bad.Line, bad.Field));
        Assert.Contains("row group 1, row 0: 2 inputs but 1 outputs", bad.Message);
    }

    [Fact]
    public void TheCatalogNamesEveryDatasetWithItsSources()
    {
        Assert.Equal(ProblemFamilies.Names.Order(), DatasetCatalog.Names.Order());
        foreach (var d in DatasetCatalog.All)
        {
            Assert.All(d.Files, f => Assert.StartsWith("https://", f.Url));
            Assert.All(d.DefaultSplits, s => Assert.Contains(s, d.Splits));
            Assert.All(d.Files.Where(f => f.Sha256 is not null), f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256!));
        }
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, too late to assert).</summary>
internal sealed class SyncProgress(Action<FetchProgress> report) : IProgress<FetchProgress>
{
    public void Report(FetchProgress value) => report(value);
}
