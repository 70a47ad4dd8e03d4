using Rlef.Training.Config;

namespace Rlef.Training.Runs;

/// <summary>
/// The directory of one training run:
/// <code>
/// config.json               the effective config (what `--resume` reads back)
/// metrics.jsonl             one line per update
/// tensorboard/events.out.tfevents.*
/// checkpoints/step-NNNNNNNN/ state.json + the named files of the model and optimizer
/// </code>
/// </summary>
public sealed class RunDirectory : IDisposable
{
    public const string ConfigFileName = "config.json";
    public const string CheckpointsDirectory = "checkpoints";

    RunDirectory(string path, RlefConfig config, Checkpoint? resumedFrom, bool resuming)
    {
        Path = path;
        Config = config;
        ResumedFrom = resumedFrom;
        Checkpoints = new CheckpointStore(System.IO.Path.Combine(path, CheckpointsDirectory), config.Schedule.KeepLastCheckpoints);
        // A resumed run redoes every update after its checkpoint (all of them when it never saved one).
        Metrics = new MetricsLog(path, resuming ? resumedFrom?.State.Step ?? 0 : null);
    }

    public string Path { get; }
    public RlefConfig Config { get; }
    public CheckpointStore Checkpoints { get; }
    public MetricsLog Metrics { get; }
    /// <summary>The checkpoint a resumed run continues from; null for a fresh run (or a resumed one that never saved).</summary>
    public Checkpoint? ResumedFrom { get; }

    /// <summary>Starts a new run in <paramref name="path"/>, which must not hold one already.</summary>
    public static RunDirectory Create(string path, RlefConfig config)
    {
        string configPath = System.IO.Path.Combine(path, ConfigFileName);
        if (File.Exists(configPath))
            throw new IOException($"'{path}' already holds a run ({ConfigFileName} exists); resume it or choose another directory");
        Directory.CreateDirectory(path);
        ConfigLoader.WriteEffective(config, configPath);
        return new RunDirectory(path, config, resumedFrom: null, resuming: false);
    }

    /// <summary>Reopens the run in <paramref name="path"/> with its saved config and its newest checkpoint.</summary>
    public static RunDirectory Resume(string path)
    {
        string configPath = System.IO.Path.Combine(path, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{path}' is not a run directory: {ConfigFileName} is missing", configPath);
        RlefConfig config = ConfigLoader.Load(configPath);
        var store = new CheckpointStore(System.IO.Path.Combine(path, CheckpointsDirectory), config.Schedule.KeepLastCheckpoints);
        return new RunDirectory(path, config, store.Latest(), resuming: true);
    }

    /// <summary>
    /// Refuses to resume the run in <paramref name="path"/> with <paramref name="given"/> when it differs from the
    /// run's saved config: the error names the first key that differs, with both values (a resumed run keeps its config).
    /// </summary>
    public static void RequireSameConfig(string path, RlefConfig given)
    {
        string configPath = System.IO.Path.Combine(path, ConfigFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{path}' is not a run directory: {ConfigFileName} is missing", configPath);
        var differences = ConfigLoader.Differences(ConfigLoader.Load(configPath), given);
        if (differences.Count == 0) return;
        var (key, saved, now) = differences[0];
        string more = differences.Count > 1 ? $" (and {differences.Count - 1} more: {string.Join(", ", differences.Skip(1).Select(d => d.Key))})" : "";
        throw new ConfigException($"cannot resume '{path}' with another config: {key} is {now} here but {saved} in its {ConfigFileName}{more}; start a new run for another config");
    }

    public void Dispose() => Metrics.Dispose();
}
