using System.Text;
using System.Text.Json;
using Rlef.Environment;
using Rlef.Training.Runs.TensorBoard;

namespace Rlef.Training.Runs;

/// <summary>
/// The metrics of a run, one record per update: a line of metrics.jsonl ({"step":…, "wall_time":…, name: value…},
/// non-finite values as null) and a TensorBoard event. Each line is flushed as it is written, so a crash loses at
/// most the update in flight.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    public const string JsonlFileName = "metrics.jsonl";
    public const string TensorBoardDirectory = "tensorboard";

    readonly StreamWriter _jsonl;
    readonly EventFileWriter _events;
    readonly TimeProvider _clock;

    /// <summary>
    /// Opens the log of <paramref name="runDirectory"/>. When resuming from a checkpoint at
    /// <paramref name="resumeStep"/>, lines past it (written by the interrupted process after its last checkpoint,
    /// and about to be written again) and a torn last line are dropped first.
    /// </summary>
    public MetricsLog(string runDirectory, long? resumeStep = null, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        JsonlPath = Path.Combine(runDirectory, JsonlFileName);
        if (resumeStep is { } step && File.Exists(JsonlPath)) TruncateAfter(JsonlPath, step);
        _jsonl = new StreamWriter(new FileStream(JsonlPath, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
        _events = new EventFileWriter(Path.Combine(runDirectory, TensorBoardDirectory), _clock);
        if (resumeStep is { } s) _events.WriteSessionStart(s + 1);
        _events.Flush();
    }

    public string JsonlPath { get; }
    public string EventFilePath => _events.Path;

    /// <summary>Appends the metrics of update <paramref name="step"/>, in the given order.</summary>
    public void Write(long step, IReadOnlyList<KeyValuePair<string, double>> metrics)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, ReadableJson.WriterOptions(indented: false)))
        {
            json.WriteStartObject();
            json.WriteNumber("step", step);
            json.WriteNumber("wall_time", _clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            foreach (var (name, value) in metrics)
            {
                if (name is "step" or "wall_time") throw new ArgumentException($"metric name '{name}' is reserved", nameof(metrics));
                if (double.IsFinite(value)) json.WriteNumber(name, value);
                else json.WriteNull(name);
            }
            json.WriteEndObject();
        }
        _jsonl.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        _jsonl.Write('\n');
        _jsonl.Flush();
        _events.WriteScalars(step, metrics);
        _events.Flush();
    }

    public void Dispose()
    {
        _jsonl.Dispose();
        _events.Dispose();
    }

    static void TruncateAfter(string path, long step)
    {
        var kept = new StringBuilder();
        foreach (string line in File.ReadAllLines(path))
        {
            long? lineStep = StepOf(line);
            if (lineStep is null) continue; // torn by the crash
            if (lineStep <= step) kept.Append(line).Append('\n');
        }
        string temp = path + ".tmp";
        File.WriteAllText(temp, kept.ToString(), new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
    }

    static long? StepOf(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.TryGetProperty("step", out JsonElement s) && s.TryGetInt64(out long v) ? v : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
