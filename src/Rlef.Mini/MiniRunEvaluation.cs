using Rlef.Engine.Sampling;
using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Evaluation;
using Rlef.Evaluation.Report;
using Rlef.Sandbox;
using Rlef.Training.Rollouts;

namespace Rlef.Mini;

/// <summary>
/// One evaluation of `rlef mini`, on the same machinery as `rlef eval --policy model:DIR`: an
/// <see cref="EvaluationRun"/> (rollouts persisted as they finish, resumed by a rerun, run.json guarding the settings)
/// with a <see cref="ModelPolicy"/>, then <see cref="EvaluationReport"/> and <see cref="ReportWriter"/> (summary.json,
/// report.md and charts in the evaluation's directory).
/// </summary>
public sealed class MiniEvaluation(ICodeExecutor executor)
{
    public required string Name { get; init; }
    /// <summary>"start" or "trained": names the policy in run.json so a rerun cannot mix two policies.</summary>
    public required string Label { get; init; }
    public required string ModelDirectory { get; init; }
    public required string DataPath { get; init; }
    public required IReadOnlyList<Problem> Problems { get; init; }
    public required string OutputDirectory { get; init; }
    public FeedbackMode Feedback { get; init; } = FeedbackMode.Real;
    /// <summary>rollouts.jsonl whose failed turns seed the random-feedback pool (this run's failures join it).</summary>
    public string? RandomFeedbackPool { get; init; }
    public int Rollouts { get; init; } = 1;
    public int TurnLimit { get; init; } = 3;
    public int Concurrency { get; init; } = 64;
    public double Temperature { get; init; } = 0.2;
    public double TopP { get; init; } = 0.95;
    public int MaxTokens { get; init; } = 512;
    public int Seed { get; init; } = 1;

    public static string FeedbackName(FeedbackMode mode) => mode == FeedbackMode.Real ? "execution" : mode.ToString().ToLowerInvariant();

    public async Task<EvaluationReport> RunAsync(IMiniRunView view, CancellationToken cancellationToken)
    {
        var sampling = new SamplingOptions { Temperature = (float)Temperature, TopP = (float)TopP, MaxTokens = MaxTokens, Seed = Seed };
        using ModelPolicy policy = ModelPolicy.Load(ModelDirectory, sampling, Concurrency, Label);
        EvaluationRun.CheckOrWriteSettings(OutputDirectory, new RunSettings
        {
            Dataset = ProblemFamily.CodeContests.ToName(),
            DataSha256 = DataFile.Sha256(DataPath),
            Policy = policy.Describe(),
            TurnLimit = TurnLimit,
            Feedback = Feedback.ToString().ToLowerInvariant(),
            Temperature = Temperature,
            TopP = TopP,
            MaxTokens = MaxTokens,
        });

        IncorrectProgramPool? pool = null;
        bool seeded = RandomFeedbackPool is not null && File.Exists(RandomFeedbackPool);
        if (Feedback == FeedbackMode.Random)
            pool = seeded ? IncorrectProgramPool.FromRollouts(RolloutStore.Read(RandomFeedbackPool!)) : new IncorrectProgramPool();
        // A pool seeded from the real-feedback evaluation stays fixed, so that the ablation reproduces from run to run.
        var run = new EvaluationRun(Problems, policy, executor, new EpisodeOptions { TurnLimit = TurnLimit, Feedback = Feedback },
            Rollouts, Concurrency, OutputDirectory) { IncorrectPrograms = pool, GrowIncorrectPrograms = !seeded };
        EvaluationRun.Result result = null!;
        string title = $"eval {Name}: {Problems.Count} test problems × {Rollouts}, T={Temperature}, top-p={TopP}, feedback {FeedbackName(Feedback)}";
        await view.EvaluateAsync(title, async report =>
            result = await run.RunAsync(p => report(p.Done, p.Total, p.Passed), cancellationToken));
        if (result.Errors > 0)
            throw new InvalidOperationException($"eval {Name}: {result.Errors} rollouts failed (see {Path.Combine(OutputDirectory, EvaluationRun.ErrorsFile)}); rerun the same command to retry them");

        var evaluation = Compute(result.Rollouts, policy.Describe(), Feedback, TurnLimit);
        ReportWriter.Write(OutputDirectory, evaluation);
        view.Note($"eval {Name}: solve rate {evaluation.SolveRate.ToPercentText()}, " +
                  $"1@3 multi-turn {evaluation.Find("1@3", TurnLimit)?.Estimate.ToPercentText() ?? "n/a"} " +
                  $"({result.FinishedThisSession.Count} rollouts this session, {result.Elapsed.TotalSeconds:F0} s)");
        return evaluation;
    }

    /// <summary>The eval's metrics from stored rollouts (also what the report recomputes from rollouts.jsonl).</summary>
    public static EvaluationReport Compute(IReadOnlyList<Rollout> rollouts, string policy, FeedbackMode feedback, int turnLimit) =>
        EvaluationReport.Compute(rollouts.Select(RolloutSummary.From).ToList(), new EvaluationOptions
        {
            TurnLimit = turnLimit,
            Dataset = "mini (generated CodeContests-style problems, test split)",
            Policy = policy,
            FeedbackMode = FeedbackName(feedback),
        });
}
