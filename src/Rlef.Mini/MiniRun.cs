using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rlef.Environment;
using Rlef.Engine.Model;
using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Mini.Synthetic;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Mini;

/// <summary>The generated problems of the miniature: generator seed, difficulty and split sizes.</summary>
public sealed record MiniData(int Seed, string Difficulty, int Train, int Valid, int Test)
{
    /// <summary>
    /// The miniature's splits. The shipped checkpoint was pretrained on train problems of the same seed and
    /// difficulty (<see cref="MiniDataset"/>); the generator draws test first, so the test split is the same whatever the
    /// train count, and RL's train split is a prefix of the pretraining's.
    /// </summary>
    public static MiniData Default { get; } = new(MiniDataset.Seed, MiniDataset.DifficultyName, MiniDataset.TrainCount, MiniDataset.ValidCount, MiniDataset.TestCount);
}

/// <summary>A budget of `rlef mini`: the RLEF config and how much of the test split is evaluated.</summary>
/// <param name="TestProblems">Test problems evaluated (the first N; 0 = the whole split).</param>
/// <param name="EvalRollouts">Rollouts per test problem: 3 make single-turn 1@3 (three first replies) estimable.</param>
/// <param name="RandomFeedbackRollouts">Rollouts per test problem of the random-feedback ablation: as many as the real
/// feedback's, so that true vs random feedback is paired rollout by rollout under the paper's bootstrap.</param>
/// <param name="Concurrency">Episodes in flight per evaluation; their replies are sampled in one batch.</param>
public sealed record MiniPreset(string Name, string ConfigFile, int TestProblems, int EvalRollouts, int RandomFeedbackRollouts, int Concurrency)
{
    public static MiniPreset Full { get; } = new("full", "configs/mini.yaml", TestProblems: 0, EvalRollouts: 3, RandomFeedbackRollouts: 3, Concurrency: 64);
    public static MiniPreset Quick { get; } = new("quick", "configs/mini-quick.yaml", TestProblems: 60, EvalRollouts: 3, RandomFeedbackRollouts: 3, Concurrency: 64);

    public static MiniPreset FromName(string name) => name switch
    {
        "full" => Full,
        "quick" => Quick,
        _ => throw new ArgumentException($"unknown preset '{name}' (full or quick)"),
    };
}

/// <summary>Everything one `rlef mini` run needs.</summary>
public sealed record MiniRunOptions
{
    public required MiniPreset Preset { get; init; }
    /// <summary>The starting policy: a Hugging Face model directory with tokenizer.json and a chat template.</summary>
    public required string ModelDirectory { get; init; }
    /// <summary>Data, training run, evaluations and phase times (rerun the same command to resume).</summary>
    public required string OutputDirectory { get; init; }
    /// <summary>The markdown report; its charts are written beside it.</summary>
    public required string ReportPath { get; init; }
    /// <summary>The command line as the report shows it.</summary>
    public string Command { get; init; } = "rlef mini";
    /// <summary>The RLEF config file; default the preset's.</summary>
    public string? ConfigFile { get; init; }
    /// <summary>key=value overrides applied after the config file (tests shrink the run with them).</summary>
    public IReadOnlyList<string> ConfigOverrides { get; init; } = [];
    public MiniData Data { get; init; } = MiniData.Default;
    /// <summary>Evaluation temperature and top-p (docs/protocol.md §4: 0.2 / 0.95 for 1@3) and the sampling seed.</summary>
    public double Temperature { get; init; } = 0.2;
    public double TopP { get; init; } = 0.95;
    public int EvalSeed { get; init; } = 1;
    public int TurnLimit { get; init; } = 3;
    /// <summary>
    /// Donors of the random-feedback evaluations: "dataset", the paper's (the generated test problems'
    /// incorrect_solutions, i.e. their mutants, of another problem), or "own-failures" (the evaluated policy's own failed
    /// turns in its real-feedback evaluation, what runs before this option used).
    /// </summary>
    public string RandomFeedbackSource { get; init; } = "dataset";
}

/// <summary>What the command line shows while `rlef mini` runs (the CLI draws Spectre displays; tests log lines).</summary>
public interface IMiniRunView
{
    /// <summary>A phase starts, is skipped as done, or finished (one line).</summary>
    void Note(string message);
    /// <summary>Runs the training with a live view of <paramref name="progress"/>.</summary>
    Task TrainAsync(string title, TrainingProgress progress, Func<Task> work);
    /// <summary>Runs an evaluation; the work reports (done, total, solved) to the callback it is given.</summary>
    Task EvaluateAsync(string title, Func<Action<int, int, int>, Task> work);
}

/// <summary>A view that writes one line per phase (for tests and non-interactive terminals).</summary>
public sealed class PlainMiniRunView(TextWriter log) : IMiniRunView
{
    public void Note(string message) => log.WriteLine(message);
    public Task TrainAsync(string title, TrainingProgress progress, Func<Task> work) => work();
    public Task EvaluateAsync(string title, Func<Action<int, int, int>, Task> work) => work((_, _, _) => { });
}

/// <summary>
/// `rlef mini`: the paper in miniature, end to end and resumable. Phases, each skipped when its output is complete:
/// generate the problems (out/data) → evaluate the starting policy on the test split with real and with random
/// feedback (out/eval/start-*) → RLEF from the starting checkpoint (out/train, the trainer's resumable run) → export the
/// best-on-validation policy (out/trained) → evaluate it likewise (out/eval/trained-*) → the report. The wall time of
/// every phase is summed over sessions in out/phases.json.
/// </summary>
public sealed class MiniRun(MiniRunOptions options, ICodeExecutor executor, IMiniRunView view)
{
    public const string SettingsFile = "mini.json", PhasesFile = "phases.json";
    public static readonly string[] Evaluations = ["start-real", "start-random", "trained-real", "trained-random"];

    string Out => options.OutputDirectory;
    public string DataDirectory => Path.Combine(Out, "data");
    public string TrainDirectory => Path.Combine(Out, "train");
    public string TrainedModelDirectory => Path.Combine(Out, "trained");
    public string EvalDirectory(string name) => Path.Combine(Out, "eval", name);

    public async Task<MiniReportResult> RunAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(Out);
        RlefConfig config = LoadConfig();
        CheckOrWriteSettings(config);
        var phases = new PhaseTimes(Path.Combine(Out, PhasesFile));

        await phases.TimeAsync("data", () => { GenerateData(); return Task.CompletedTask; });
        await phases.TimeAsync("eval start, real feedback", () => EvaluateAsync("start-real", options.ModelDirectory, "start", FeedbackMode.Real, config, cancellationToken));
        await phases.TimeAsync("eval start, random feedback", () => EvaluateAsync("start-random", options.ModelDirectory, "start", FeedbackMode.Random, config, cancellationToken));
        await phases.TimeAsync("RLEF training", () => TrainAsync(config, cancellationToken));
        await phases.TimeAsync("export trained policy", () => { ExportTrained(); return Task.CompletedTask; });
        await phases.TimeAsync("eval trained, real feedback", () => EvaluateAsync("trained-real", TrainedModelDirectory, "trained", FeedbackMode.Real, config, cancellationToken));
        await phases.TimeAsync("eval trained, random feedback", () => EvaluateAsync("trained-random", TrainedModelDirectory, "trained", FeedbackMode.Random, config, cancellationToken));

        MiniReportResult result = MiniReport.Write(Out, options.ReportPath, options.Command, phases);
        view.Note($"report: {options.ReportPath}");
        return result;
    }

    RlefConfig LoadConfig()
    {
        string file = options.ConfigFile ?? options.Preset.ConfigFile;
        if (!File.Exists(file)) throw new FileNotFoundException($"config '{file}' not found (run from the repository root, or give --config)", file);
        if (!File.Exists(Path.Combine(options.ModelDirectory, "config.json")))
            throw new FileNotFoundException($"model directory '{options.ModelDirectory}' has no config.json", Path.Combine(options.ModelDirectory, "config.json"));
        string data = Path.GetFullPath(DataDirectory);
        var overrides = new List<string>
        {
            $"model.directory={Path.GetFullPath(options.ModelDirectory)}",
            "data.kind=codecontests",
            $"data.train={Path.Combine(data, "train.jsonl")}",
            $"data.valid={Path.Combine(data, "valid.jsonl")}",
            $"rollout.turn_limit={options.TurnLimit}",
        };
        overrides.AddRange(options.ConfigOverrides);
        RlefConfig config = ConfigLoader.Load(file, overrides);
        var errors = config.Validate();
        if (errors.Count > 0) throw new ConfigException($"{file}: " + string.Join("\n", errors));
        return config;
    }

    /// <summary>What defines the run's results; a rerun must match it (else it would mix two runs in one directory).</summary>
    public sealed record Settings(string Preset, string ModelDirectory, MiniData Data, int TestProblems, int EvalRollouts, int RandomFeedbackRollouts,
        double Temperature, double TopP, int EvalSeed, int TurnLimit, string Config, string RandomFeedbackSource = "own-failures");

    void CheckOrWriteSettings(RlefConfig config)
    {
        var settings = new Settings(options.Preset.Name, Path.GetFullPath(options.ModelDirectory), options.Data, options.Preset.TestProblems,
            options.Preset.EvalRollouts, options.Preset.RandomFeedbackRollouts, options.Temperature, options.TopP, options.EvalSeed, options.TurnLimit, ConfigLoader.ToJson(config),
            options.RandomFeedbackSource);
        string path = Path.Combine(Out, SettingsFile);
        string json = JsonSerializer.Serialize(settings, Json);
        if (File.Exists(path))
        {
            Settings previous = ReadSettings(Out);
            var differ = typeof(Settings).GetProperties().Where(p => !Equals(p.GetValue(previous), p.GetValue(settings))).Select(p => p.Name).ToList();
            if (differ.Count > 0)
                throw new InvalidOperationException($"{Out} holds a `rlef mini` run with other settings ({string.Join(", ", differ)} differ from {path}); " +
                    "rerun it with the same options and config, or use another --out");
            return;
        }
        File.WriteAllText(path, json + "\n");
    }

    public static Settings ReadSettings(string outputDirectory)
    {
        string path = Path.Combine(outputDirectory, SettingsFile);
        return JsonSerializer.Deserialize<Settings>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty");
    }

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = ReadableJson.Encoder,
    };

    void GenerateData()
    {
        string[] files = ["train.jsonl", "valid.jsonl", "test.jsonl"];
        if (files.All(f => File.Exists(Path.Combine(DataDirectory, f))))
        {
            view.Note($"data: {DataDirectory} (done)");
            return;
        }
        // Generate beside, then move into place: an interrupted generation never looks complete.
        string temp = DataDirectory + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        MiniData d = options.Data;
        SyntheticDataset.Generate(temp, d.Seed, d.Train, d.Valid, d.Test, Difficulty.FromName(d.Difficulty));
        if (Directory.Exists(DataDirectory)) Directory.Delete(DataDirectory, recursive: true);
        Directory.Move(temp, DataDirectory);
        view.Note($"data: {d.Train} train / {d.Valid} valid / {d.Test} test problems ({d.Difficulty}, seed {d.Seed}) in {DataDirectory}");
    }

    async Task TrainAsync(RlefConfig config, CancellationToken cancellationToken)
    {
        bool exists = File.Exists(Path.Combine(TrainDirectory, RunDirectory.ConfigFileName));
        using RunDirectory run = exists ? RunDirectory.Resume(TrainDirectory) : RunDirectory.Create(TrainDirectory, config);
        long total = run.Config.Schedule.TotalUpdates;
        if (run.ResumedFrom?.State.Step >= total)
        {
            view.Note($"RLEF: {TrainDirectory} (done, {total} updates)");
            return;
        }
        InitialPolicy policy = RunSetup.LoadPolicy(run.Config);
        var train = RunSetup.TrainProblems(run.Config);
        var valid = RunSetup.ValidProblems(run.Config);
        var progress = new TrainingProgress(total, run.ResumedFrom?.State.Step ?? 0);
        var trainer = new RlefTrainer(run, policy.Model, policy.Format, executor, train, valid, progress);
        view.Note($"RLEF: {train.Count} training / {Math.Min(valid.Count, run.Config.Data.ValidProblems > 0 ? run.Config.Data.ValidProblems : valid.Count)} " +
                  $"validation problems, {policy.Model.ParameterCount:N0} parameters, from step {trainer.State.Step} of {total}");
        await view.TrainAsync($"rlef mini: RLEF {TrainDirectory}", progress, () => trainer.RunAsync(cancellationToken: cancellationToken));
        view.Note($"RLEF: done at step {trainer.State.Step}" + (trainer.State.Best is { } b ? $"; best {b.Metric} {b.Score:F3} at step {b.Step}" : ""));
    }

    /// <summary>Where the trained policy came from (out/trained/source.json).</summary>
    public sealed record TrainedSource(string Checkpoint, long Step, string Selection, double? ValidSolveRate);

    public const string SourceFile = "source.json";

    void ExportTrained()
    {
        using RunDirectory run = RunDirectory.Resume(TrainDirectory);
        Checkpoint? best = run.Checkpoints.Best();
        Checkpoint checkpoint = best ?? run.Checkpoints.Latest()
            ?? throw new InvalidOperationException($"{TrainDirectory}: the training run has no checkpoint");
        var source = new TrainedSource(Path.GetFullPath(checkpoint.Directory), checkpoint.State.Step,
            best is null ? "last (no validation ran)" : "best on validation", best is null ? null : checkpoint.State.Best?.Score);
        string sourcePath = Path.Combine(TrainedModelDirectory, SourceFile);
        string json = JsonSerializer.Serialize(source, Json);
        if (File.Exists(sourcePath) && File.ReadAllText(sourcePath).Trim() == json.Trim())
        {
            view.Note($"trained policy: {TrainedModelDirectory} (done, step {source.Step})");
            return;
        }
        InitialPolicy policy = RunSetup.LoadPolicy(run.Config);
        ModelFiles.LoadWeights(ModelFiles.PathOf(checkpoint, RlefTrainer.PolicyFile), policy.Model);
        string temp = TrainedModelDirectory + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        policy.Model.Save(temp);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            string from = Path.Combine(run.Config.Model.Directory, file);
            if (File.Exists(from)) File.Copy(from, Path.Combine(temp, file));
        }
        File.WriteAllText(Path.Combine(temp, SourceFile), json + "\n");
        if (Directory.Exists(TrainedModelDirectory)) Directory.Delete(TrainedModelDirectory, recursive: true);
        Directory.Move(temp, TrainedModelDirectory);
        view.Note($"trained policy: step {source.Step} ({source.Selection}) → {TrainedModelDirectory}");
    }

    async Task EvaluateAsync(string name, string modelDirectory, string label, FeedbackMode feedback, RlefConfig config, CancellationToken cancellationToken)
    {
        string testPath = Path.Combine(DataDirectory, "test.jsonl");
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, testPath);
        if (options.Preset.TestProblems > 0) problems = problems.Take(options.Preset.TestProblems).ToList();
        var evaluation = new MiniEvaluation(executor)
        {
            Name = name,
            Label = label,
            ModelDirectory = modelDirectory,
            DataPath = testPath,
            Problems = problems,
            OutputDirectory = EvalDirectory(name),
            Feedback = feedback,
            RandomFeedbackPool = feedback == FeedbackMode.Random && options.RandomFeedbackSource == "own-failures"
                ? Path.Combine(EvalDirectory(label + "-real"), Rlef.Environment.Running.EvaluationRun.RolloutsFile) : null,
            RandomFeedbackFromDataset = options.RandomFeedbackSource == "dataset",
            Rollouts = feedback == FeedbackMode.Random ? options.Preset.RandomFeedbackRollouts : options.Preset.EvalRollouts,
            TurnLimit = options.TurnLimit,
            Concurrency = options.Preset.Concurrency,
            Temperature = options.Temperature,
            TopP = options.TopP,
            MaxTokens = config.Rollout.MaxReplyTokens,
            Seed = options.EvalSeed,
        };
        await evaluation.RunAsync(view, cancellationToken);
    }
}

/// <summary>Wall seconds per phase, summed over the sessions of a resumed run, in order of first appearance.</summary>
public sealed class PhaseTimes
{
    readonly string _path;
    readonly List<KeyValuePair<string, double>> _seconds;

    public PhaseTimes(string path)
    {
        _path = path;
        _seconds = File.Exists(path)
            ? JsonSerializer.Deserialize<List<KeyValuePair<string, double>>>(File.ReadAllText(path), MiniRun.Json) ?? []
            : [];
    }

    public IReadOnlyList<KeyValuePair<string, double>> Seconds => _seconds;
    public double Total => _seconds.Sum(p => p.Value);

    /// <summary>Runs a phase and adds its wall time, also when it fails or is cancelled (the time was spent).</summary>
    public async Task TimeAsync(string phase, Func<Task> work)
    {
        var clock = Stopwatch.StartNew();
        try { await work(); }
        finally { Add(phase, clock.Elapsed.TotalSeconds); }
    }

    public void Add(string phase, double seconds)
    {
        int i = _seconds.FindIndex(p => p.Key == phase);
        if (i < 0) _seconds.Add(new(phase, seconds));
        else _seconds[i] = new(phase, _seconds[i].Value + seconds);
        string temp = _path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(_seconds, MiniRun.Json) + "\n");
        File.Move(temp, _path, overwrite: true);
    }
}
