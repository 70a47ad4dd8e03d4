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
    /// <summary>A temperature drawn per reply (<see cref="Policies.TemperatureRange"/>) instead of <see cref="Temperature"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? TemperatureRange { get; init; }
}

/// <summary>Progress of a run, reported after every rollout.</summary>
public sealed record RunProgress(int Done, int Total, int Passed, int Failed, TimeSpan Elapsed, int SkippedAsDone)
{
    /// <summary>Rollouts finished in this session (resumed ones excluded) per second.</summary>
    public double RolloutsPerSecond => Elapsed.TotalSeconds > 0 ? (Done - SkippedAsDone) / Elapsed.TotalSeconds : 0;
    public double SolveRate => Done - Failed > 0 ? (double)Passed / (Done - Failed) : 0;
}

/// <summary>A requested rollout that did not finish, and why (the error, or that the run stopped before it).</summary>
public sealed record MissingRollout(string TaskId, int RolloutIndex, string Reason);

/// <summary>
/// N rollouts of every problem, run with a bounded number of workers, each persisted as it finishes; rollouts already
/// in the store are skipped (resume). A rollout that throws (endpoint down after retries, a reply outside the
/// protocol, a sandbox infrastructure error) is logged to errors.log with its secrets masked and left out of the
/// store, unscored, so the next run retries it. When the policy's endpoint is declared unreachable
/// (<see cref="EndpointUnavailableException"/>) the whole run stops at once; <see cref="Result.Missing"/> lists every
/// requested rollout that did not finish and why.
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
    public sealed record Result(IReadOnlyList<Rollout> Rollouts, IReadOnlyList<Rollout> FinishedThisSession, int Errors, string? RepairNote, TimeSpan Elapsed)
    {
        /// <summary>Problems × rollouts per problem asked for.</summary>
        public int Requested { get; init; }
        /// <summary>Every requested rollout that is not in the store, with the reason.</summary>
        public IReadOnlyList<MissingRollout> Missing { get; init; } = [];
        /// <summary>Why the run stopped early (the endpoint taken for dead), or null.</summary>
        public string? StoppedReason { get; init; }
        public bool Complete => Missing.Count == 0;
    }

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
            previous = previous with { Policy = WithoutEndpoint(previous.Policy) };
            if (previous != settings)
                throw new InvalidOperationException(
                    $"{directory} holds a run with other settings ({Difference(previous, settings)}); resume it with the same settings or use another --out");
            return;
        }
        File.WriteAllText(path, JsonSerializer.Serialize(settings, options) + "\n");
    }

    /// <summary>Runs written before the policy's identity left out the endpoint recorded `openai:URL#MODEL`; that
    /// is the same run as `openai:MODEL` now.</summary>
    private static string WithoutEndpoint(string policy) =>
        policy.StartsWith("openai:", StringComparison.Ordinal) && policy.LastIndexOf('#') is int hash and > 0
            ? "openai:" + policy[(hash + 1)..]
            : policy;

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
        var failures = new Dictionary<(string, int), string>();
        string? stopped = null;
        var gate = new Lock();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        progress?.Invoke(new RunProgress(done, total, passed, 0, clock.Elapsed, skipped));

        try
        {
            await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, workers), CancellationToken = stop.Token },
                async (job, token) =>
                {
                    Rollout rollout;
                    try
                    {
                        rollout = await runner.RunAsync(job.Problem, job.Index, token);
                    }
                    catch (OperationCanceledException) when (token.IsCancellationRequested)
                    {
                        return; // the run is stopping; this rollout is reported missing below
                    }
                    catch (Exception e)
                    {
                        string reason = Secrets.Mask($"{e.GetType().Name}: {e.Message}");
                        lock (gate)
                        {
                            errors++;
                            done++;
                            failures[(job.Problem.Id, job.Index)] = reason;
                            File.AppendAllText(Path.Combine(outputDirectory, ErrorsFile), $"{DateTimeOffset.UtcNow:O} {job.Problem.Id} #{job.Index}: {reason}\n");
                            if (e is EndpointUnavailableException && stopped is null)
                            {
                                stopped = Secrets.Mask(e.Message);
                                File.AppendAllText(Path.Combine(outputDirectory, ErrorsFile), $"{DateTimeOffset.UtcNow:O} run stopped: {stopped}\n");
                                stop.Cancel();
                            }
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
        }
        catch (OperationCanceledException) when (stopped is not null && !cancellationToken.IsCancellationRequested)
        {
            // Stopped by the circuit breaker: what finished is in the store; the rest is listed as missing.
        }

        var missing = new List<MissingRollout>();
        foreach (var (problem, index) in jobs)
            if (!store.IsDone(problem.Id, index))
                missing.Add(new MissingRollout(problem.Id, index, failures.GetValueOrDefault((problem.Id, index))
                    ?? (stopped is not null ? "not attempted: the run stopped (endpoint unreachable)" : "not attempted")));
        return new Result(results, fresh, errors, store.RepairNote, clock.Elapsed)
        {
            Requested = problems.Count * rolloutsPerProblem,
            Missing = missing,
            StoppedReason = stopped,
        };
    }
}
