using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Rlef.Environment;

namespace Rlef.Training.Sft;

/// <summary>
/// What an SFT run directory records besides its config (sft-data.json): the trajectories file it learns from, where
/// its best weights go, and a fingerprint of the examples, so `rlef sft --resume DIR` needs no options and refuses
/// other data (docs/protocol.md §3.12).
/// </summary>
public sealed record SftRunData(string Rollouts, string? Out, int Examples, string Fingerprint)
{
    public const string FileName = "sft-data.json";

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = ReadableJson.Encoder,
    };

    /// <summary>SHA-256 over every example's problem id, tokens and target positions, in order.</summary>
    public static string FingerprintOf(IReadOnlyList<SftExample> examples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (SftExample e in examples)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(e.ProblemId));
            hash.AppendData(BitConverter.GetBytes(e.Tokens.Length));
            foreach (int t in e.Tokens) hash.AppendData(BitConverter.GetBytes(t));
            hash.AppendData(BitConverter.GetBytes(e.TargetPositions.Length));
            foreach (int p in e.TargetPositions) hash.AppendData(BitConverter.GetBytes(p));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Writes it into <paramref name="runDirectory"/> (under a temporary name, then moved into place).</summary>
    public void Write(string runDirectory)
    {
        string path = Path.Combine(runDirectory, FileName);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(this, Json) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The record of <paramref name="runDirectory"/>; the error names the file when it is missing or unreadable.</summary>
    public static SftRunData Read(string runDirectory)
    {
        string path = Path.Combine(runDirectory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"'{runDirectory}' is not an SFT run: {FileName} is missing", path);
        try
        {
            return JsonSerializer.Deserialize<SftRunData>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"'{path}' is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': unreadable: {e.Message}", e);
        }
    }

    /// <summary>Refuses examples other than the run's: resuming on them would not continue the same run.</summary>
    public void Check(IReadOnlyList<SftExample> examples, string runDirectory)
    {
        string fingerprint = FingerprintOf(examples);
        if (examples.Count != Examples || fingerprint != Fingerprint)
            throw new InvalidDataException($"'{runDirectory}': the run learned from {Examples} examples of '{Rollouts}' (sha256 {Fingerprint[..12]}…); " +
                $"these are {examples.Count} (sha256 {fingerprint[..12]}…): resume with the run's trajectories and tokenizer");
    }
}
