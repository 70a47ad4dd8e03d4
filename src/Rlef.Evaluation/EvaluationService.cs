using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Sandbox;

namespace Rlef.Evaluation;

/// <summary>What one evaluation runs: problems, a policy, the episode settings and where it persists.</summary>
public sealed record EvaluationRequest
{
    public required IReadOnlyList<Problem> Problems { get; init; }
    public required IPolicy Policy { get; init; }
    public required ICodeExecutor Executor { get; init; }
    public required EpisodeOptions Episode { get; init; }
    public required int RolloutsPerProblem { get; init; }
    /// <summary>Rollouts in flight at once.</summary>
    public required int Workers { get; init; }
    public required string OutputDirectory { get; init; }
    /// <summary>The run's identity in run.json (the policy's is filled in from <see cref="Policy"/>).</summary>
    public required RunSettings Settings { get; init; }
    /// <summary>Labels and metric choices of the report (its turn limit is the episode's).</summary>
    public EvaluationOptions Report { get; init; } = new();
    /// <summary>What loading the data said (records kept once), carried into the files.</summary>
    public IReadOnlyList<string> DataNotes { get; init; } = [];
    public IIncorrectProgramSource? IncorrectPrograms { get; init; }
    public bool GrowIncorrectPrograms { get; init; } = true;
}

/// <summary>The run's own result, how complete it is, and the report (null when no rollout finished).</summary>
public sealed record EvaluationOutcome(EvaluationRun.Result Run, Completeness Completeness, EvaluationReport? Report)
{
    public bool IsComplete => Completeness.IsComplete;
}

/// <summary>
/// The one evaluation path of the project, behind `rlef eval` and the miniature's evaluations (docs/protocol.md §4):
/// run.json guards the settings, <see cref="EvaluationRun"/> rolls out and persists (resuming what a previous session
/// finished), the report is computed from every finished rollout, and summary.json and report.md are written with
/// their <see cref="Completeness"/> — also when the run is incomplete or nothing finished, so the files on disk
/// always say how much of the request they cover.
/// </summary>
public static class EvaluationService
{
    public static async Task<EvaluationOutcome> RunAsync(EvaluationRequest request, Action<RunProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        EvaluationRun.CheckOrWriteSettings(request.OutputDirectory, request.Settings with { Policy = request.Policy.Identity() });
        var run = new EvaluationRun(request.Problems, request.Policy, request.Executor, request.Episode, request.RolloutsPerProblem,
            request.Workers, request.OutputDirectory)
        {
            IncorrectPrograms = request.IncorrectPrograms,
            GrowIncorrectPrograms = request.GrowIncorrectPrograms,
        };
        EvaluationRun.Result result = await run.RunAsync(progress, cancellationToken);

        var summaries = result.Rollouts.Select(RolloutSummary.From).ToList();
        // The first reason per problem names why its rollouts are missing.
        var reasons = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (MissingRollout m in result.Missing)
            reasons.TryAdd(m.TaskId, m.Reason);
        var completeness = Completeness.From(request.Problems.Select(p => p.Id).ToList(), request.RolloutsPerProblem, summaries,
            reasons, result.StoppedReason) with { DataNotes = request.DataNotes };
        EvaluationReport? report = summaries.Count == 0
            ? null
            : EvaluationReport.Compute(summaries, request.Report with { TurnLimit = request.Episode.TurnLimit });
        ReportWriter.Write(request.OutputDirectory, report, completeness);
        return new EvaluationOutcome(result, completeness, report);
    }
}
