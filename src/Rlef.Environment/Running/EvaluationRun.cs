using System.Diagnostics;
using System.Text.Json;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;

namespace Rlef.Environment.Running;

/// <summary>The settings that define a run's results; a resumed run must have the same ones (run.json).</summary>
public sealed record RunSettings
{
    public required string Dataset { get; init; }
    public required string DataSha256 { get; init; }
    public required string Policy { get; init; }
    public required int TurnLimit { get; init; }
    public required string Feedback { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
}

/// <summary>Progress of a run, reported after every rollout.</summary>
public sealed record RunProgress(int Done, int Total, int Passed, int Failed, TimeSpan Elapsed, int SkippedAsDone)
{
    /// <summary>Rollouts finished in this session (resumed ones excluded) per second.</summary>
    public double RolloutsPerSecond => Elapsed.TotalSeconds > 0 ? (Done - SkippedAsDone) / Elapsed.TotalSeconds : 0;
    public double SolveRate => Done - Failed > 0 ? (double)Passed / (Done - Failed) : 0;
}

/// <summary>
/// N rollouts of every problem, run with a bounded number of workers, each persisted as it finishes; rollouts already
/// in the store are skipped (resume). A rollout that throws (endpoint down after retries, sandbox failure) is logged to
/// errors.log and left out of the store, so the next run retries it.
/// </summary>
public sealed class EvaluationRun(
    IReadOnlyList<Problem> problems, IPolicy policy, ICodeExecutor executor, EpisodeOptions episode,
    int rolloutsPerProblem, int workers, string outputDirectory)
{
    public const string RolloutsFile = "rollouts.jsonl";
    public const string SettingsFile = "run.json";
    public const string ErrorsFile = "errors.log";

    /// <summary>
    /// Donors of the random-feedback ablation: the dataset's incorrect_solutions (<see cref="DatasetIncorrectSolutions"/>,
    /// the paper's) or an <see cref="IncorrectProgramPool"/> of a policy's own failed turns, seeded from a previous run
    /// by the caller and grown with this run's (see <see cref="GrowIncorrectPrograms"/>).
    /// </summary>
    public IIncorrectProgramSource? IncorrectPrograms { get; init; }

    /// <summary>Whether this run's own failed turns join <see cref="IncorrectPrograms"/> (default). Off, the pool stays
    /// as the caller seeded it, so every random-feedback turn picks from the same programs and reruns reproduce.</summary>
    public bool GrowIncorrectPrograms { get; init; } = true;

    /// <summary><see cref="Rollouts"/>: all finished rollouts of the requested problems and indices, resumed ones
    /// included; <see cref="FinishedThisSession"/>: only those run now (for timing).</summary>
    public sealed record Result(IReadOnlyList<Rollout> Rollouts, IReadOnlyList<Rollout> FinishedThisSession, int Errors, string? RepairNote, TimeSpan Elapsed);

    /// <summary>Writes run.json, or checks that an existing one matches <paramref name="settings"/>.</summary>
    public static void CheckOrWriteSettings(string directory, RunSettings settings)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, SettingsFile);
        var options = new JsonSerializerOptions(RolloutStore.Json) { WriteIndented = true };
        if (File.Exists(path))
        {
            var previous = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(path), options)
                ?? throw new InvalidDataException($"{path}: empty");
            if (previous != settings)
                throw new InvalidOperationException(
                    $"{directory} holds a run with other settings ({Difference(previous, settings)}); resume it with the same settings or use another --out");
            return;
        }
        File.WriteAllText(path, JsonSerializer.Serialize(settings, options) + "\n");
    }

    private static string Difference(RunSettings a, RunSettings b)
    {
        var diffs = new List<string>();
        foreach (var p in typeof(RunSettings).GetProperties())
            if (!Equals(p.GetValue(a), p.GetValue(b)))
                diffs.Add($"{p.Name}: {p.GetValue(a)} there, {p.GetValue(b)} now");
        return string.Join("; ", diffs);
    }

    public async Task<Result> RunAsync(Action<RunProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(outputDirectory);
        using var store = new RolloutStore(Path.Combine(outputDirectory, RolloutsFile));
        var wanted = new HashSet<string>(problems.Select(p => p.Id));
        var finished = store.Existing.Where(r => wanted.Contains(r.TaskId) && r.RolloutIndex < rolloutsPerProblem).ToList();
        if (GrowIncorrectPrograms)
            (IncorrectPrograms as IncorrectProgramPool)?.AddRange(store.Existing);

        // Rollout index outermost: a partial run covers every problem evenly, so its running solve rate means something.
        var jobs = new List<(Problem Problem, int Index)>();
        for (int i = 0; i < rolloutsPerProblem; i++)
            foreach (var p in problems)
                if (!store.IsDone(p.Id, i))
                    jobs.Add((p, i));

        int total = finished.Count + jobs.Count, done = finished.Count, passed = finished.Count(r => r.PassedAll), errors = 0;
        int skipped = finished.Count;
        var clock = Stopwatch.StartNew();
        var runner = new Episode(executor, policy, episode, IncorrectPrograms);
        var results = new List<Rollout>(finished);
        var fresh = new List<Rollout>();
        var gate = new Lock();
        progress?.Invoke(new RunProgress(done, total, passed, 0, clock.Elapsed, skipped));

        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers), CancellationToken = cancellationToken },
            async (job, token) =>
            {
                Rollout rollout;
                try
                {
                    rollout = await runner.RunAsync(job.Problem, job.Index, token);
                }
                catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    lock (gate)
                    {
                        errors++;
                        done++;
                        File.AppendAllText(Path.Combine(outputDirectory, ErrorsFile),
                            $"{DateTimeOffset.UtcNow:O} {job.Problem.Id} #{job.Index}: {e.GetType().Name}: {e.Message}\n");
                        progress?.Invoke(new RunProgress(done, total, passed, errors, clock.Elapsed, skipped));
                    }
                    return;
                }
                store.Append(rollout);
                if (GrowIncorrectPrograms)
                    (IncorrectPrograms as IncorrectProgramPool)?.Add(rollout);
                lock (gate)
                {
                    results.Add(rollout);
                    fresh.Add(rollout);
                    done++;
                    if (rollout.PassedAll) passed++;
                    progress?.Invoke(new RunProgress(done, total, passed, errors, clock.Elapsed, skipped));
                }
            });
        return new Result(results, fresh, errors, store.RepairNote, clock.Elapsed);
    }
}
