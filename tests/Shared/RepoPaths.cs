namespace Rlef.Tests;

/// <summary>
/// Where tests find the repository, the paper's templates and printed examples (docs/protocol, in the repository),
/// and the optional benchmark data.
/// </summary>
public static class RepoPaths
{
    /// <summary>The repository root: the first ancestor of the test assembly's folder that holds Rlef.slnx.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The paper's prompt templates and printed examples (docs/protocol/templates, docs/protocol/examples).</summary>
    public static string Protocol => Path.Combine(Root, "docs", "protocol");

    /// <summary>
    /// The benchmark data (HumanEval(+), MBPP(+), APPS, CodeContests files), which the repository does not ship:
    /// $RLEF_DATA, else shared/data beside the clone (where CI keeps it). Tests that need it are reported as skipped,
    /// with the file they looked for, when it is absent (<see cref="DataFactAttribute"/>).
    /// </summary>
    public static string Data =>
        System.Environment.GetEnvironmentVariable("RLEF_DATA") is { Length: > 0 } d ? d : Path.GetFullPath(Path.Combine(Root, "..", "shared", "data"));

    /// <summary>A file of the benchmark data, or null when it is absent.</summary>
    public static string? DataFile(string relative)
    {
        string path = Path.Combine(Data, relative);
        return File.Exists(path) ? path : null;
    }

    /// <summary>A file of the benchmark data that a <see cref="DataFactAttribute"/> test declared (so it is there).</summary>
    public static string RequireData(string relative) =>
        DataFile(relative) ?? throw new FileNotFoundException($"{relative} not found under {Data}: declare it in the test's [DataFact]");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rlef.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"Rlef.slnx not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>
/// A test that reads files of the benchmark data (<see cref="RepoPaths.Data"/>): when one is absent the test is
/// reported as skipped, naming the file and where it was looked for, instead of passing without checking anything.
/// <see cref="FullRun"/> tests also need RLEF_FULL_DATA=1 (they take minutes).
/// </summary>
public sealed class DataFactAttribute(params string[] files) : FactAttribute
{
    /// <summary>Runs only with RLEF_FULL_DATA=1.</summary>
    public bool FullRun { get; set; }

    public override string? Skip
    {
        get
        {
            if (base.Skip is { } reason) return reason;
            if (files.FirstOrDefault(f => RepoPaths.DataFile(f) is null) is { } missing)
                return $"benchmark data absent: {missing} not found under {RepoPaths.Data} (set RLEF_DATA to the data folder)";
            if (FullRun && System.Environment.GetEnvironmentVariable("RLEF_FULL_DATA") != "1")
                return "the full run needs RLEF_FULL_DATA=1 (minutes on 2 cores)";
            return null;
        }
        set => base.Skip = value;
    }
}
