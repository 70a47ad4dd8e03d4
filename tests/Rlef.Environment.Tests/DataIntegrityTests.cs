using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Tests;

/// <summary>
/// Damaged data files, built here: a gzip file cut at a flush point or missing its trailer, one with a bad CRC, one of
/// several members, and a file with a duplicate task id. Each is refused at load with the file name, never loaded in part.
/// </summary>
public sealed class DataIntegrityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-data-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Record(string name) => JsonSerializer.Serialize(new
    {
        name,
        description = $"PROBLEM {name}",
        public_tests = new { input = new[] { "1\n" }, output = new[] { "1\n" } },
        private_tests = new { input = new[] { "2\n" }, output = new[] { "2\n" } },
    });

    private static byte[] Lines(int count, int from = 0) =>
        Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(from, count).Select(i => Record($"p{i}") + "\n")));

    /// <summary>Gzip of <paramref name="data"/>; <paramref name="flushAt"/>: the compressed length right after a sync
    /// flush once that many bytes went in (where a download cut at a flush point would end).</summary>
    private static byte[] Gzip(byte[] data, int? flushBytes, out long flushAt)
    {
        flushAt = -1;
        using var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            int split = flushBytes ?? data.Length;
            z.Write(data, 0, split);
            if (flushBytes is not null)
            {
                z.Flush(); // Z_SYNC_FLUSH: a byte-aligned point where everything so far can be decompressed
                flushAt = ms.Length;
            }
            z.Write(data, split, data.Length - split);
        }
        return ms.ToArray();
    }

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void AWholeGzipFileLoads()
    {
        string path = WriteFile("whole.jsonl.gz", Gzip(Lines(40), null, out _));
        Assert.Equal(40, CodeContestsLoader.Load(path).Count);
    }

    [Fact]
    public void AGzipFileCutAtAFlushPointIsRefusedAsTruncated()
    {
        byte[] data = Lines(40);
        byte[] gz = Gzip(data, data.Length / 2, out long flushAt);
        string path = WriteFile("cut.jsonl.gz", gz[..(int)flushAt]);
        var e = Assert.Throws<InvalidDataException>(() => CodeContestsLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void AGzipFileWithoutItsTrailerIsRefusedAsTruncated()
    {
        byte[] gz = Gzip(Lines(40), null, out _);
        string path = WriteFile("no-trailer.jsonl.gz", gz[..^8]);
        var e = Assert.Throws<InvalidDataException>(() => CodeContestsLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void AGzipFileWithABadCrcNamesTheFile()
    {
        byte[] gz = Gzip(Lines(40), null, out _);
        gz[^8] ^= 0xFF; // the CRC-32 of the trailer
        string path = WriteFile("bad-crc.jsonl.gz", gz);
        var e = Assert.Throws<InvalidDataException>(() => CodeContestsLoader.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Matches("CRC|truncated|damaged", e.Message);
    }

    [Fact]
    public void AGzipFileOfSeveralMembersLoadsWhole()
    {
        byte[] two = [.. Gzip(Lines(10), null, out _), .. Gzip(Lines(15, from: 10), null, out _)];
        string path = WriteFile("members.jsonl.gz", two);
        Assert.Equal(25, CodeContestsLoader.Load(path).Count);
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8)); // the CRC-32/ISO-HDLC check value

    [Fact]
    public void DuplicateTaskIdsAreRefusedAtLoadNamingTheFileAndBothLines()
    {
        string other = Record("a").Replace("PROBLEM a", "PROBLEM a, another statement");
        string path = WriteFile("dup.jsonl", Encoding.UTF8.GetBytes(Record("a") + "\n" + Record("b") + "\n\n" + other + "\n"));
        var e = Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(ProblemFamily.CodeContests, path));
        Assert.Equal(path, e.Path);
        Assert.Equal(4, e.Line);
        Assert.Contains("line 1", e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void ARecordRepeatedExactlyIsKeptOnceAndSaid()
    {
        string path = WriteFile("repeat.jsonl", Encoding.UTF8.GetBytes(Record("a") + "\n" + Record("b") + "\n" + Record("a") + "\n"));
        var notes = new List<string>();
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, path, notes);
        Assert.Equal(["a", "b"], problems.Select(p => p.Id));
        Assert.Equal($"{path}:3: task 'a' repeats line 1 exactly; evaluated once", Assert.Single(notes));
    }

    [Fact]
    public void DuplicateTaskIdsAreRefusedInEveryFormat()
    {
        string he = """{"task_id": "HumanEval/0", "prompt": "def f(x):\n", "entry_point": "f", "canonical_solution": "    return x\n", "test": "def check(candidate):\n    assert candidate(1) == 1\n"}""";
        string path = WriteFile("he.jsonl", Encoding.UTF8.GetBytes(he + "\n" + he.Replace("return x", "return +x") + "\n"));
        Assert.Equal(2, Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(ProblemFamily.HumanEval, path)).Line);
        string apps = """{"name": "1", "id": "1", "description": "d", "starter_code": "", "sample_io": [{"input": "1\n", "output": ["1\n"]}], "test_list": []}""";
        string appsPath = WriteFile("apps.jsonl", Encoding.UTF8.GetBytes(apps + "\n" + apps.Replace("\"d\"", "\"e\"") + "\n"));
        Assert.Equal(2, Assert.Throws<DatasetFormatException>(() => DatasetLoader.Load(ProblemFamily.Apps, appsPath)).Line);
    }

    [Fact]
    public void ALeadingByteOrderMarkIsNotPartOfTheFirstRecord()
    {
        string path = WriteFile("bom.jsonl", [.. Encoding.UTF8.Preamble, .. Lines(2)]);
        Assert.Equal(2, CodeContestsLoader.Load(path).Count);
    }
}
