namespace Rlef.Tests;

// Where tests find the repository and the benchmark data. The data lives outside the repository
// (../shared/data beside the clone, as in CI); RLEF_SHARED overrides the location of shared/.
public static class RepoPaths
{
    /// <summary>The repository root: the first ancestor of the test assembly's folder that holds Rlef.slnx.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The shared/ folder (benchmark data, protocol templates and examples).</summary>
    public static string Shared =>
        System.Environment.GetEnvironmentVariable("RLEF_SHARED") is { Length: > 0 } s ? s : Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    public static string Data => Path.Combine(Shared, "data");
    public static string Protocol => Path.Combine(Shared, "protocol");

    /// <summary>A file under shared/data, or null when the data is absent (the caller reports the skip plainly).</summary>
    public static string? DataFile(string relative)
    {
        string path = Path.Combine(Data, relative);
        return File.Exists(path) ? path : null;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Rlef.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"Rlef.slnx not found above {AppContext.BaseDirectory}");
    }
}
