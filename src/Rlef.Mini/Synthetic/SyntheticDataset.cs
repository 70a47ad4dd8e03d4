using System.Text;
using System.Text.Json;

namespace Rlef.Mini.Synthetic;

public sealed record SyntheticSplits(IReadOnlyList<SyntheticProblem> Train, IReadOnlyList<SyntheticProblem> Valid, IReadOnlyList<SyntheticProblem> Test)
{
    public IEnumerable<(string Split, IReadOnlyList<SyntheticProblem> Problems)> All =>
        [("train", Train), ("valid", Valid), ("test", Test)];
}

/// <summary>
/// Train / valid / test splits of generated problems and their export as CodeContests JSONL.
/// <para>
/// The splits share no task: a chain's <see cref="OpChain.Key"/> (ops and parameters) occurs in one split only.
/// Beyond that, a seeded share of chain shapes (<see cref="OpChain.StructureKey"/>: the ops without parameters) is
/// held out of train, so part of valid / test asks for a composition of ops never seen together in training.
/// Test is drawn first, from its own random stream, so the test set depends only on the seed, the test count and
/// the difficulty: growing the train split does not change it.
/// </para>
/// </summary>
public static class SyntheticDataset
{
    public const double DefaultHeldOutStructureShare = 0.1;

    public static SyntheticSplits GenerateSplits(int seed, int trainCount, int validCount, int testCount, Difficulty difficulty,
        double heldOutStructureShare = DefaultHeldOutStructureShare)
    {
        if (trainCount < 0 || validCount < 0 || testCount < 0)
            throw new ArgumentException($"split sizes must be non-negative (got {trainCount}/{validCount}/{testCount})");
        if (heldOutStructureShare is < 0 or >= 1)
            throw new ArgumentException($"held-out structure share must lie in [0, 1) (got {heldOutStructureShare})");

        var generator = new ProblemGenerator(difficulty);
        var usedKeys = new HashSet<string>(StringComparer.Ordinal);
        bool HeldOut(OpChain c) => IsHeldOut(seed, c.StructureKey, heldOutStructureShare);

        List<SyntheticProblem> Make(string split, int count, bool allowHeldOut)
        {
            var rng = new Random(DeriveSeed(seed, split));
            var problems = new List<SyntheticProblem>(count);
            for (int i = 0; i < count; i++)
            {
                var p = generator.Generate(rng, $"mini-{split}-{i:D5}", c => !usedKeys.Contains(c.Key) && (allowHeldOut || !HeldOut(c)));
                usedKeys.Add(p.Chain.Key);
                problems.Add(p with { HeldOutStructure = HeldOut(p.Chain) });
            }
            return problems;
        }

        var test = Make("test", testCount, allowHeldOut: true);
        var valid = Make("valid", validCount, allowHeldOut: true);
        var train = Make("train", trainCount, allowHeldOut: false);
        return new SyntheticSplits(train, valid, test);
    }

    /// <summary>
    /// Writes <c>train.jsonl</c>, <c>valid.jsonl</c>, <c>test.jsonl</c> (CodeContests schema, one problem a line) and
    /// beside each a <c>.meta.jsonl</c> with the chain and the bug of each incorrect solution. Returns the JSONL paths.
    /// </summary>
    public static IReadOnlyList<string> WriteSplits(SyntheticSplits splits, string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        foreach (var (split, problems) in splits.All)
        {
            string path = Path.Combine(directory, $"{split}.jsonl");
            WriteLines(path, problems.Select(p => CodeContestsRecord.From(p).ToJson()));
            WriteLines(Path.Combine(directory, $"{split}.meta.jsonl"),
                problems.Select(p => JsonSerializer.Serialize(SyntheticMeta.From(p), CodeContestsRecord.JsonOptions)));
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>Generates the three splits and writes them into <paramref name="directory"/> (what `rlef mini generate` calls).</summary>
    public static IReadOnlyList<string> Generate(string directory, int seed, int trainCount, int validCount, int testCount, Difficulty difficulty,
        double heldOutStructureShare = DefaultHeldOutStructureShare) =>
        WriteSplits(GenerateSplits(seed, trainCount, validCount, testCount, difficulty, heldOutStructureShare), directory);

    /// <summary>Reads a CodeContests JSONL file; errors name the file and line.</summary>
    public static IReadOnlyList<CodeContestsRecord> ReadJsonl(string path)
    {
        var records = new List<CodeContestsRecord>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length > 0)
                records.Add(CodeContestsRecord.Parse(line, $"{path}:{lineNo}"));
        }
        return records;
    }

    private static void WriteLines(string path, IEnumerable<string> lines)
    {
        // LF line ends on every OS, so the files (and their hashes) do not depend on where they were generated.
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        foreach (var line in lines)
            writer.Write(line + "\n");
    }

    internal static bool IsHeldOut(int seed, string structureKey, double share) =>
        Fnv1a($"{seed}/{structureKey}") % 1_000_000 < (ulong)(share * 1_000_000);

    private static int DeriveSeed(int seed, string split) => (int)(Fnv1a($"{seed}/{split}") & 0x7fffffff);

    // A stable hash (string.GetHashCode is randomised per process).
    private static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(s))
            h = (h ^ b) * 1099511628211;
        return h;
    }
}
