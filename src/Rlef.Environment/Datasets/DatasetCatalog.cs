using Rlef.Environment.Problems;

namespace Rlef.Environment.Datasets;

/// <summary>
/// One file of a dataset: where it is published, the name it has in the cache (and in a mirror), the split it
/// holds, and its SHA-256 when known in advance (otherwise the first download records it; docs/datasets.md).
/// </summary>
public sealed record SourceFile(string Url, string LocalName, string Split, string? Sha256 = null)
{
    /// <summary>Parquet files are converted to JSON Lines next to them, under this name; the loaders read that.</summary>
    public string DataName => LocalName.EndsWith(".parquet", StringComparison.Ordinal) ? LocalName[..^".parquet".Length] + ".jsonl" : LocalName;

    public bool IsParquet => LocalName.EndsWith(".parquet", StringComparison.Ordinal);
}

/// <summary>A benchmark `rlef data fetch` knows: its files, which splits it fetches by default, and what eval reads.</summary>
public sealed record DatasetSource
{
    public required string Name { get; init; }
    public required ProblemFamily Family { get; init; }
    /// <summary>Where the files come from, in words (the README of the cache folder, `--help`).</summary>
    public required string Origin { get; init; }
    public required IReadOnlyList<SourceFile> Files { get; init; }
    public required IReadOnlyList<string> DefaultSplits { get; init; }
    /// <summary>What `rlef eval --dataset NAME` reads without --data: a file's DataName, or "" for the folder itself.</summary>
    public required string EvalData { get; init; }

    public IReadOnlyList<string> Splits => Files.Select(f => f.Split).Distinct().ToList();
}

/// <summary>
/// The canonical sources (docs/datasets.md "Sources" gives each with the reason for it). Hugging Face files are
/// fetched from `resolve/main`; HumanEval+ and MBPP+ from evalplus' release assets, because the Hugging Face copies
/// (evalplus/humanevalplus, evalplus/mbppplus) hold the "OriginFmt" variant whose single test program merges the
/// base and plus inputs, while RLEF gives feedback from the base tests and judges on the plus tests.
/// </summary>
public static class DatasetCatalog
{
    private const string HuggingFace = "https://huggingface.co/datasets/";

    public static readonly IReadOnlyList<DatasetSource> All =
    [
        new()
        {
            Name = "humaneval", Family = ProblemFamily.HumanEval, Origin = "Hugging Face openai/openai_humaneval (parquet)",
            Files = [new(HuggingFace + "openai/openai_humaneval/resolve/main/openai_humaneval/test-00000-of-00001.parquet", "test.parquet", "test")],
            DefaultSplits = ["test"], EvalData = "test.jsonl",
        },
        new()
        {
            Name = "humanevalplus", Family = ProblemFamily.HumanEvalPlus, Origin = "evalplus/humanevalplus_release v0.1.10 (release asset)",
            Files = [new("https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz", "HumanEvalPlus.jsonl.gz", "test",
                "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101")],
            DefaultSplits = ["test"], EvalData = "HumanEvalPlus.jsonl.gz",
        },
        new()
        {
            Name = "mbpp", Family = ProblemFamily.Mbpp, Origin = "Hugging Face google-research-datasets/mbpp, config full (parquet)",
            Files =
            [
                new(HuggingFace + "google-research-datasets/mbpp/resolve/main/full/test-00000-of-00001.parquet", "test.parquet", "test"),
                new(HuggingFace + "google-research-datasets/mbpp/resolve/main/full/validation-00000-of-00001.parquet", "validation.parquet", "validation"),
                new(HuggingFace + "google-research-datasets/mbpp/resolve/main/full/train-00000-of-00001.parquet", "train.parquet", "train"),
                new(HuggingFace + "google-research-datasets/mbpp/resolve/main/full/prompt-00000-of-00001.parquet", "prompt.parquet", "prompt"),
            ],
            DefaultSplits = ["test"], EvalData = "test.jsonl",
        },
        new()
        {
            Name = "mbppplus", Family = ProblemFamily.MbppPlus, Origin = "evalplus/mbppplus_release v0.2.0 (release asset)",
            Files = [new("https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz", "MbppPlus.jsonl.gz", "test",
                "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63")],
            DefaultSplits = ["test"], EvalData = "MbppPlus.jsonl.gz",
        },
        new()
        {
            Name = "apps", Family = ProblemFamily.Apps, Origin = "Hugging Face codeparrot/apps (JSON Lines)",
            Files =
            [
                new(HuggingFace + "codeparrot/apps/resolve/main/test.jsonl", "test.jsonl", "test"),
                new(HuggingFace + "codeparrot/apps/resolve/main/train.jsonl", "train.jsonl", "train"),
            ],
            DefaultSplits = ["test"], EvalData = "test.jsonl",
        },
        new()
        {
            Name = "codecontests", Family = ProblemFamily.CodeContests, Origin = "Hugging Face deepmind/code_contests (parquet)",
            Files =
            [
                new(HuggingFace + "deepmind/code_contests/resolve/main/data/test-00000-of-00001-9c49eeff30aacaa8.parquet", "test.parquet", "test"),
                new(HuggingFace + "deepmind/code_contests/resolve/main/data/valid-00000-of-00001-5e672c5751f060d3.parquet", "valid.parquet", "valid"),
            ],
            DefaultSplits = ["test", "valid"], EvalData = "test.jsonl",
        },
        new()
        {
            Name = "livecodebench", Family = ProblemFamily.LiveCodeBench, Origin = "Hugging Face livecodebench/code_generation_lite (JSON Lines, one file per release)",
            Files = LiveCodeBenchLoader.ReleaseFiles.Select((file, i) =>
                new SourceFile(HuggingFace + "livecodebench/code_generation_lite/resolve/main/" + file, file, $"v{i + 1}")).ToList(),
            DefaultSplits = LiveCodeBenchLoader.ReleaseFiles.Select((_, i) => $"v{i + 1}").ToList(), EvalData = "",
        },
    ];

    public static IReadOnlyList<string> Names => All.Select(d => d.Name).ToList();

    public static DatasetSource Find(string name) =>
        All.FirstOrDefault(d => d.Name == name.ToLowerInvariant())
        ?? throw new ArgumentException($"unknown dataset '{name}' (expected {string.Join(", ", Names)})");

    public static DatasetSource For(ProblemFamily family) => All.First(d => d.Family == family);
}
