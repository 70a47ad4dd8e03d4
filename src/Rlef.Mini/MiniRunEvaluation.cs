using Rlef.Engine.Sampling;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Evaluation;
using Rlef.Evaluation.Report;
using Rlef.Sandbox;
using Rlef.Training.Rollouts;

namespace Rlef.Mini;

/// <summary>
/// One evaluation of `rlef mini`, through the same <see cref="EvaluationService"/> as `rlef eval --policy model:DIR`
/// (rollouts persisted as they finish, resumed by a rerun, run.json guarding the settings, summary.json and report.md
/// with their completeness) with a <see cref="ModelPolicy"/>. An incomplete evaluation stops the miniature with an
/// error after its files say "incomplete"; a rerun completes it.
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
    /// <summary>Random feedback from the test problems' incorrect_solutions (the paper's) instead of a pool of failed turns.</summary>
    public bool RandomFeedbackFromDataset { get; init; }
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
        var settings = new RunSettings
        {
            Dataset = ProblemFamily.CodeContests.ToName(),
            DataSha256 = DataFile.Sha256(DataPath),
            Policy = ((IPolicy)policy).Identity(),
            TurnLimit = TurnLimit,
            Feedback = Feedback.ToString().ToLowerInvariant(),
            Temperature = Temperature,
            TopP = TopP,
            MaxTokens = MaxTokens,
        };

        IIncorrectProgramSource? pool = null;
        bool seeded = RandomFeedbackPool is not null && File.Exists(RandomFeedbackPool);
        if (Feedback == FeedbackMode.Random && RandomFeedbackFromDataset)
            pool = new DatasetIncorrectSolutions(Problems);
        else if (Feedback == FeedbackMode.Random)
            pool = seeded ? IncorrectProgramPool.FromRollouts(RolloutStore.Read(RandomFeedbackPool!)) : new IncorrectProgramPool();
        // A pool seeded from the real-feedback evaluation stays fixed, so that the ablation reproduces from run to run.
        var request = new EvaluationRequest
        {
            Problems = Problems,
            Policy = policy,
            Executor = executor,
            Episode = new EpisodeOptions { TurnLimit = TurnLimit, Feedback = Feedback },
            RolloutsPerProblem = Rollouts,
            Workers = Concurrency,
            OutputDirectory = OutputDirectory,
            Settings = settings,
            IncorrectPrograms = pool,
            GrowIncorrectPrograms = !seeded,
            Report = Options(policy.Describe(), Feedback, TurnLimit),
        };
        EvaluationOutcome outcome = null!;
        string title = $"eval {Name}: {Problems.Count} test problems × {Rollouts}, T={Temperature}, top-p={TopP}, feedback {FeedbackName(Feedback)}";
        await view.EvaluateAsync(title, async report =>
            outcome = await EvaluationService.RunAsync(request, p => report(p.Done, p.Total, p.Passed), cancellationToken));
        if (!outcome.IsComplete)
            throw new InvalidOperationException(
                $"eval {Name}: INCOMPLETE, {outcome.Completeness.ProblemsNotEvaluated} of {outcome.Completeness.ProblemsRequested} problems not evaluated " +
                $"(see {Path.Combine(OutputDirectory, EvaluationRun.ErrorsFile)}; its summary.json and report.md say so); rerun the same command to complete it");

        var evaluation = outcome.Report!;
        view.Note($"eval {Name}: solve rate {evaluation.SolveRate.ToPercentText()}, " +
                  $"1@3 multi-turn {evaluation.Find("1@3", TurnLimit)?.Estimate.ToPercentText() ?? "n/a"} " +
                  $"({outcome.Run.FinishedThisSession.Count} rollouts this session, {outcome.Run.Elapsed.TotalSeconds:F0} s)");
        return evaluation;
    }

    private static EvaluationOptions Options(string policy, FeedbackMode feedback, int turnLimit) => new()
    {
        TurnLimit = turnLimit,
        Dataset = "mini (generated CodeContests-style problems, test split)",
        Policy = policy,
        FeedbackMode = FeedbackName(feedback),
    };

    /// <summary>The eval's metrics from stored rollouts (also what the report recomputes from rollouts.jsonl).</summary>
    public static EvaluationReport Compute(IReadOnlyList<Rollout> rollouts, string policy, FeedbackMode feedback, int turnLimit) =>
        EvaluationReport.Compute(rollouts.Select(RolloutSummary.From).ToList(), Options(policy, feedback, turnLimit));
}
