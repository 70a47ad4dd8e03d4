using System.Text.Json;
using System.Text.Json.Serialization;
using Rlef.Environment;

namespace Rlef.Mini.Synthetic;

// One row of the CodeContests dataset as the Hugging Face JSONL export spells it: the field names and enum values of
// DeepMind's contest_problem.proto (ContestProblem), with repeated messages flattened to parallel lists
// ({input[], output[]}, {language[], solution[]}) and time_limit as a protobuf Duration {seconds, nanos}.

public sealed record CodeContestsTests(
    [property: JsonPropertyName("input")] IReadOnlyList<string> Input,
    [property: JsonPropertyName("output")] IReadOnlyList<string> Output)
{
    public static CodeContestsTests Empty { get; } = new([], []);
}

public sealed record CodeContestsSolutions(
    [property: JsonPropertyName("language")] IReadOnlyList<int> Language,
    [property: JsonPropertyName("solution")] IReadOnlyList<string> Solution);

public sealed record CodeContestsDuration(
    [property: JsonPropertyName("seconds")] long Seconds,
    [property: JsonPropertyName("nanos")] int Nanos);

public sealed record CodeContestsRecord
{
    /// <summary>ContestProblem.Solution.Language.PYTHON3.</summary>
    public const int Python3 = 3;
    /// <summary>ContestProblem.Source.UNKNOWN_SOURCE: generated problems come from no contest site.</summary>
    public const int UnknownSource = 0;

    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public required string Description { get; init; }
    [JsonPropertyName("public_tests")] public required CodeContestsTests PublicTests { get; init; }
    [JsonPropertyName("private_tests")] public required CodeContestsTests PrivateTests { get; init; }
    [JsonPropertyName("generated_tests")] public required CodeContestsTests GeneratedTests { get; init; }
    [JsonPropertyName("source")] public int Source { get; init; } = UnknownSource;
    [JsonPropertyName("difficulty")] public int Difficulty { get; init; }
    [JsonPropertyName("solutions")] public required CodeContestsSolutions Solutions { get; init; }
    [JsonPropertyName("incorrect_solutions")] public required CodeContestsSolutions IncorrectSolutions { get; init; }
    [JsonPropertyName("cf_contest_id")] public int CfContestId { get; init; }
    [JsonPropertyName("cf_index")] public string CfIndex { get; init; } = "";
    [JsonPropertyName("cf_points")] public float CfPoints { get; init; }
    [JsonPropertyName("cf_rating")] public int CfRating { get; init; }
    [JsonPropertyName("cf_tags")] public IReadOnlyList<string> CfTags { get; init; } = [];
    [JsonPropertyName("is_description_translated")] public bool IsDescriptionTranslated { get; init; }
    [JsonPropertyName("untranslated_description")] public string UntranslatedDescription { get; init; } = "";
    [JsonPropertyName("time_limit")] public CodeContestsDuration? TimeLimit { get; init; }
    [JsonPropertyName("memory_limit_bytes")] public long MemoryLimitBytes { get; init; }
    [JsonPropertyName("input_file")] public string InputFile { get; init; } = "";
    [JsonPropertyName("output_file")] public string OutputFile { get; init; } = "";

    public static CodeContestsRecord From(SyntheticProblem p) => new()
    {
        Name = p.Name,
        Description = p.Description,
        PublicTests = new(p.PublicTests.Select(t => t.Input).ToList(), p.PublicTests.Select(t => t.Output).ToList()),
        PrivateTests = new(p.HiddenTests.Select(t => t.Input).ToList(), p.HiddenTests.Select(t => t.Output).ToList()),
        GeneratedTests = CodeContestsTests.Empty,
        Difficulty = p.DifficultyLevel,
        Solutions = new([Python3], [p.Solution]),
        IncorrectSolutions = new(p.IncorrectSolutions.Select(_ => Python3).ToList(), p.IncorrectSolutions.Select(s => s.Code).ToList()),
        TimeLimit = new((long)p.TimeLimit.TotalSeconds, (int)(p.TimeLimit.Ticks % TimeSpan.TicksPerSecond * 100)),
        MemoryLimitBytes = p.MemoryLimitBytes,
    };

    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        Encoder = ReadableJson.Encoder,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses one JSONL line; <paramref name="where"/> (e.g. "train.jsonl:12") names it in errors.</summary>
    public static CodeContestsRecord Parse(string line, string where)
    {
        try
        {
            return JsonSerializer.Deserialize<CodeContestsRecord>(line, JsonOptions) ?? throw new JsonException("null record");
        }
        catch (JsonException e)
        {
            throw new FormatException($"{where}: not a CodeContests record: {e.Message}", e);
        }
    }
}

/// <summary>
/// What the CodeContests schema has no field for, in a sidecar file next to each split (<c>train.meta.jsonl</c>):
/// the chain a problem was built from and, per incorrect solution (same order as <c>incorrect_solutions</c>), its bug
/// (kind in snake_case, e.g. <c>off_by_one</c>, and the change, e.g. <c>keep_gt(3) -> keep_ge(3)</c>).
/// </summary>
public sealed record SyntheticMeta(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("family")] string Family,
    [property: JsonPropertyName("chain")] string Chain,
    [property: JsonPropertyName("structure")] string Structure,
    [property: JsonPropertyName("multi_case")] bool MultiCase,
    [property: JsonPropertyName("held_out_structure")] bool HeldOutStructure,
    [property: JsonPropertyName("incorrect_kinds")] IReadOnlyList<string> IncorrectKinds,
    [property: JsonPropertyName("incorrect_changes")] IReadOnlyList<string> IncorrectChanges)
{
    public static SyntheticMeta From(SyntheticProblem p) => new(
        p.Name, p.Chain.Family.ToString().ToLowerInvariant(), p.Chain.Key, p.Chain.StructureKey, p.Chain.MultiCase, p.HeldOutStructure,
        p.IncorrectSolutions.Select(s => JsonNamingPolicy.SnakeCaseLower.ConvertName(s.Kind.ToString())).ToList(),
        p.IncorrectSolutions.Select(s => s.Change).ToList());
}
