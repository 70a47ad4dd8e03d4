using System.Security.Cryptography;
using Rlef.Environment.Problems;

namespace Rlef.Environment.Datasets;

/// <summary>
/// The data cache: ROOT/NAME/FILE for every fetched file (and, for parquet, the JSON Lines made from it), plus
/// ROOT/NAME/SHA256SUMS with the checksums recorded at first download. A mirror has the same layout, so a copy of
/// one machine's cache, on disk or behind any HTTP server, serves `--mirror` on another (docs/datasets.md).
/// </summary>
public static class DataCache
{
    public const string ChecksumFile = "SHA256SUMS";

    public static string DefaultRoot =>
        Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".cache", "rlef", "data");

    public static string Folder(string? root, DatasetSource dataset) => Path.Combine(root ?? DefaultRoot, dataset.Name);

    /// <summary>What `rlef eval --dataset NAME` reads when --data is not given; an error says how to get it.</summary>
    public static string EvalPath(ProblemFamily family, string? root = null)
    {
        var dataset = DatasetCatalog.For(family);
        string folder = Folder(root, dataset);
        string path = dataset.EvalData.Length == 0 ? folder : Path.Combine(folder, dataset.EvalData);
        bool present = dataset.EvalData.Length == 0 ? Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*.jsonl").Any() : File.Exists(path);
        return present ? path : throw new FileNotFoundException(
            $"no cached {dataset.Name} data at {path}: run `rlef data fetch {dataset.Name}` (or pass --data FILE)", path);
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>The recorded checksums of a dataset folder, in sha256sum's format ("HEX  NAME" per line).</summary>
    public static Dictionary<string, string> ReadChecksums(string folder)
    {
        var sums = new Dictionary<string, string>(StringComparer.Ordinal);
        string path = Path.Combine(folder, ChecksumFile);
        if (!File.Exists(path))
            return sums;
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (text.Trim().Length == 0)
                continue;
            int space = text.IndexOf("  ", StringComparison.Ordinal);
            string hex = space == 64 ? text[..64] : "";
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigitLower))
                throw new DatasetFormatException(path, line, null, "expected \"<64 lower-case hex digits>  <file name>\"");
            sums[text[(space + 2)..]] = hex;
        }
        return sums;
    }

    public static void WriteChecksums(string folder, IReadOnlyDictionary<string, string> sums)
    {
        string path = Path.Combine(folder, ChecksumFile);
        File.WriteAllLines(path + ".tmp", sums.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Value}  {s.Key}"));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
