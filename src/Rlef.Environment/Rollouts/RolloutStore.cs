using System.Text.Json;
using System.Text.Json.Serialization;

namespace Rlef.Environment.Rollouts;

/// <summary>
/// rollouts.jsonl: one finished rollout per line, appended and flushed as each finishes, so an interrupted run loses
/// at most the rollouts in flight. On open, existing lines are read back; (task id, rollout index) pairs already there
/// are skipped by the runner. A torn last line (the process died mid-write) is cut off and reported; a malformed line
/// anywhere else is an error.
/// </summary>
public sealed class RolloutStore : IDisposable
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = false,
        Encoder = ReadableJson.Encoder,
    };

    private readonly StreamWriter _writer;
    private readonly Lock _lock = new();
    private readonly HashSet<(string, int)> _done = [];

    public string Path { get; }
    public IReadOnlyList<Rollout> Existing { get; }
    /// <summary>Set when a torn final line was removed on open.</summary>
    public string? RepairNote { get; }

    public RolloutStore(string path)
    {
        Path = path;
        var existing = new List<Rollout>();
        if (File.Exists(path))
        {
            var (rollouts, validBytes, note) = ReadAll(path);
            existing = rollouts;
            RepairNote = note;
            if (note is not null)
                using (var f = new FileStream(path, FileMode.Open, FileAccess.Write))
                    f.SetLength(validBytes);
        }
        Existing = existing;
        foreach (var r in existing)
            _done.Add((r.TaskId, r.RolloutIndex));
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = false };
        if (_writer.BaseStream.Length > 0 && LastByte(path) != (byte)'\n')
            _writer.Write('\n');
    }

    public bool IsDone(string taskId, int rolloutIndex)
    {
        lock (_lock)
            return _done.Contains((taskId, rolloutIndex));
    }

    public void Append(Rollout rollout)
    {
        string line = JsonSerializer.Serialize(rollout, Json);
        lock (_lock)
        {
            if (!_done.Add((rollout.TaskId, rollout.RolloutIndex)))
                throw new InvalidOperationException($"rollout {rollout.TaskId} #{rollout.RolloutIndex} is already in {Path}");
            _writer.Write(line);
            _writer.Write('\n');
            _writer.Flush();
        }
    }

    public static IReadOnlyList<Rollout> Read(string path)
    {
        var (rollouts, _, note) = ReadAll(path);
        return note is null ? rollouts : throw new InvalidDataException(note);
    }

    private static (List<Rollout> Rollouts, long ValidBytes, string? Note) ReadAll(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var rollouts = new List<Rollout>();
        int start = 0, line = 0;
        while (start < bytes.Length)
        {
            line++;
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            bool complete = end >= 0;
            var span = bytes.AsSpan(start, (complete ? end : bytes.Length) - start);
            if (span.Trim((byte)' ').Length > 0)
            {
                try
                {
                    rollouts.Add(JsonSerializer.Deserialize<Rollout>(span, Json) ?? throw new JsonException("null"));
                }
                catch (JsonException e)
                {
                    if (!complete)
                        return (rollouts, start, $"{path}:{line}: removed an incomplete last line (interrupted write)");
                    throw new InvalidDataException($"{path}:{line}: not a rollout record: {e.Message}", e);
                }
            }
            if (!complete)
                return (rollouts, bytes.Length, null); // a whole record missing only its newline: kept (see the constructor)
            start = end + 1;
        }
        return (rollouts, bytes.Length, null);
    }

    private static byte LastByte(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        f.Seek(-1, SeekOrigin.End);
        return (byte)f.ReadByte();
    }

    public void Dispose() => _writer.Dispose();
}
