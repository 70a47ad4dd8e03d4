using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Rlef.Environment;

namespace Rlef.Training.Runs;

/// <summary>A file of a checkpoint that some other part owns (model weights, optimizer moments…): a name and a writer.</summary>
public sealed record CheckpointFile(string Name, Action<Stream> Write);

/// <summary>A saved checkpoint: its directory, its trainer state, and its named files.</summary>
public sealed record Checkpoint(string Directory, TrainerState State)
{
    public bool Has(string name) => File.Exists(System.IO.Path.Combine(Directory, name));

    /// <summary>Opens a named file for reading; the error names the checkpoint when it is missing.</summary>
    public FileStream Open(string name)
    {
        string path = System.IO.Path.Combine(Directory, name);
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{Directory}' has no file '{name}'", path);
        return File.OpenRead(path);
    }
}

/// <summary>
/// The checkpoints of a run: checkpoints/step-00001200/{state.json, named files}. A checkpoint is written into a
/// temporary directory, every file is fsync'ed, and only then is the directory renamed into place (and the parent
/// fsync'ed), so a crash leaves either the whole checkpoint or none of it. The last <c>keepLast</c> are kept, plus
/// the best on validation.
/// </summary>
public sealed partial class CheckpointStore
{
    public const string StateFileName = "state.json";
    const string Prefix = "step-";
    const string TempPrefix = ".tmp-";

    static readonly JsonSerializerOptions StateJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Encoder = ReadableJson.Encoder,
    };

    readonly int _keepLast;

    public CheckpointStore(string directory, int keepLast)
    {
        if (keepLast < 1) throw new ArgumentOutOfRangeException(nameof(keepLast), keepLast, "keep at least one checkpoint");
        Directory = directory;
        _keepLast = keepLast;
        System.IO.Directory.CreateDirectory(directory);
        // Half-written checkpoints of a crashed process.
        foreach (string temp in System.IO.Directory.GetDirectories(directory, TempPrefix + "*"))
            System.IO.Directory.Delete(temp, recursive: true);
    }

    public string Directory { get; }

    /// <summary>Writes a checkpoint atomically and prunes old ones; returns it.</summary>
    public Checkpoint Save(TrainerState state, IReadOnlyList<CheckpointFile> files)
    {
        var names = new HashSet<string>(StringComparer.Ordinal) { StateFileName };
        foreach (CheckpointFile file in files)
            if (file.Name.IndexOfAny(['/', '\\']) >= 0 || file.Name is "" or "." or ".." || !names.Add(file.Name))
                throw new ArgumentException($"checkpoint file name '{file.Name}' is invalid or used twice", nameof(files));

        string final = Path.Combine(Directory, StepDirectoryName(state.Step));
        string temp = Path.Combine(Directory, $"{TempPrefix}{StepDirectoryName(state.Step)}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(temp);
        foreach (CheckpointFile file in files)
            WriteDurably(Path.Combine(temp, file.Name), file.Write);
        // The state goes last: a checkpoint directory with a state file has everything else.
        WriteDurably(Path.Combine(temp, StateFileName), s => JsonSerializer.Serialize(s, state, StateJson));
        SyncDirectory(temp);

        if (System.IO.Directory.Exists(final)) Delete(final);
        System.IO.Directory.Move(temp, final);
        SyncDirectory(Directory);

        Prune(state);
        return new Checkpoint(final, state);
    }

    /// <summary>All complete checkpoints, oldest first.</summary>
    public IReadOnlyList<Checkpoint> List()
    {
        var checkpoints = new List<(long Step, string Dir)>();
        foreach (string dir in System.IO.Directory.GetDirectories(Directory, Prefix + "*"))
            if (long.TryParse(Path.GetFileName(dir).AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step)
                && File.Exists(Path.Combine(dir, StateFileName)))
                checkpoints.Add((step, dir));
        return checkpoints.OrderBy(c => c.Step).Select(c => new Checkpoint(c.Dir, ReadState(c.Dir))).ToList();
    }

    /// <summary>The newest checkpoint, or null when there is none.</summary>
    public Checkpoint? Latest() => List().LastOrDefault();

    /// <summary>The best checkpoint on validation according to the newest state, or null before any validation.</summary>
    public Checkpoint? Best()
    {
        IReadOnlyList<Checkpoint> all = List();
        if (all.Count == 0 || all[^1].State.Best is not { } best) return null;
        return all.FirstOrDefault(c => c.State.Step == best.Step)
            ?? throw new InvalidDataException($"'{Directory}': the best checkpoint (step {best.Step}) is missing");
    }

    public static TrainerState ReadState(string checkpointDirectory)
    {
        string path = Path.Combine(checkpointDirectory, StateFileName);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), StateJson)
                ?? throw new InvalidDataException($"'{path}' holds no trainer state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': unreadable trainer state: {e.Message}", e);
        }
    }

    static string StepDirectoryName(long step) => Prefix + step.ToString("D8", CultureInfo.InvariantCulture);

    void Prune(TrainerState newest)
    {
        IReadOnlyList<Checkpoint> all = List();
        int removable = all.Count - _keepLast;
        for (int i = 0; i < removable; i++)
            if (all[i].State.Step != newest.Best?.Step)
                Delete(all[i].Directory);
    }

    /// <summary>Renames a checkpoint out of sight before deleting it, so a crash mid-delete cannot leave a
    /// checkpoint that looks complete but lacks files (the leftover is cleaned up on the next start).</summary>
    void Delete(string checkpointDirectory)
    {
        string doomed = Path.Combine(Directory, $"{TempPrefix}deleting-{Guid.NewGuid():N}");
        System.IO.Directory.Move(checkpointDirectory, doomed);
        System.IO.Directory.Delete(doomed, recursive: true);
    }

    static void WriteDurably(string path, Action<Stream> write)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        write(stream);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>fsync a directory so a rename or a new entry in it survives power loss (POSIX only; elsewhere a no-op).</summary>
    static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"cannot open directory '{path}' to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"fsync of directory '{path}' failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
