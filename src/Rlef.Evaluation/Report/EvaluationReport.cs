using System.Globalization;
using System.Text;
using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Estimators;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation;

/// <summary>One metric at one turn limit, e.g. 1@3 with turn limit 3 (multi-turn) or pass@1 with turn limit 1.</summary>
public sealed record MetricResult(string Name, int TurnLimit, Estimate Estimate);

/// <summary>A requested metric that the data cannot support, and why.</summary>
public sealed record SkippedMetric(string Name, int TurnLimit, string Reason);

/// <summary>Solve rate when every rollout is cut at <see cref="TurnLimit"/> turns.</summary>
public sealed record TurnLimitSolveRate(int TurnLimit, Estimate Estimate);

/// <summary>A row of the terminal summary; values are fractions in [0, 1].</summary>
public sealed record SummaryRow(string Metric, string Setting, Estimate Estimate);

/// <summary>
/// Every metric of docs/protocol.md §4 computed from one set of finished rollouts, each with a 95% bootstrap interval over
/// problems.
/// <para>
/// Truncation at turn limit L (single-turn is L = 1, multi-turn is L = T): the submission of a rollout is its turn
/// min(L, turns) code; it passes the public tests when that turn's public outcome is Passed, and it is correct when
/// the episode ended at a turn ≤ L with its final code passing all tests (the code of a turn the episode went past was
/// never judged on all tests; when episodes do not stop on a public pass, as in the no-feedback ablation, solve
/// rates at L &lt; T are therefore lower bounds).
/// </para>
/// <para>
/// Per problem, at limit L: the solve rate is the share of its rollouts that are correct; pass@k applies Chen et al.'s
/// estimator with rollouts as samples; n@k applies <see cref="NAtKEstimator"/> with k' = ⌊k / L⌋ rollouts drawn
/// (every reply is a sample, a rollout cut at L turns costs L) and only correct, public-passing rollouts counting as
/// solving. Metrics are means over problems; the top-level <see cref="SolveRate"/> is the share of all rollouts whose
/// final submission passes all tests (the two agree when every problem has the same number of rollouts).
/// </para>
/// </summary>
public sealed class EvaluationReport
{
    private EvaluationReport(EvaluationOptions options, int problemCount, int rolloutCount, int minRollouts, int maxRollouts,
        Estimate solveRate, IReadOnlyList<TurnLimitSolveRate> byTurnLimit, IReadOnlyList<MetricResult> metrics,
        IReadOnlyList<SkippedMetric> skipped, BehaviourAnalysis behaviour)
    {
        Options = options;
        ProblemCount = problemCount;
        RolloutCount = rolloutCount;
        MinRolloutsPerProblem = minRollouts;
        MaxRolloutsPerProblem = maxRollouts;
        SolveRate = solveRate;
        SolveRateByTurnLimit = byTurnLimit;
        Metrics = metrics;
        Skipped = skipped;
        Behaviour = behaviour;
    }

    public EvaluationOptions Options { get; }
    public int ProblemCount { get; }
    public int RolloutCount { get; }
    public int MinRolloutsPerProblem { get; }
    public int MaxRolloutsPerProblem { get; }

    /// <summary>Share of rollouts whose final submission passes all tests.</summary>
    public Estimate SolveRate { get; }

    /// <summary>Solve rate at every turn limit 1..T.</summary>
    public IReadOnlyList<TurnLimitSolveRate> SolveRateByTurnLimit { get; }

    /// <summary>pass@k and n@k at turn limit 1 (single-turn) and T (multi-turn).</summary>
    public IReadOnlyList<MetricResult> Metrics { get; }

    public IReadOnlyList<SkippedMetric> Skipped { get; }
    public BehaviourAnalysis Behaviour { get; }

    /// <summary>The turn limits metrics are reported at: 1 (single-turn) and T (multi-turn).</summary>
    public IReadOnlyList<int> ReportedTurnLimits => Options.TurnLimit == 1 ? [1] : [1, Options.TurnLimit];

    public static string SettingName(int turnLimit, int maxTurnLimit) =>
        turnLimit == 1 ? "single-turn" : turnLimit == maxTurnLimit ? $"multi-turn ({turnLimit} turns)" : $"{turnLimit} turns";

    public static EvaluationReport Compute(IReadOnlyList<RolloutSummary> rollouts, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(rollouts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        IReadOnlyList<IReadOnlyList<RolloutSummary>> problems = GroupByProblem(rollouts, options.TurnLimit);
        int problemCount = problems.Count, turnLimit = options.TurnLimit;
        int minRollouts = problems.Min(p => p.Count), maxRollouts = problems.Max(p => p.Count);
        var bootstrap = new ProblemBootstrap(problemCount, options.BootstrapResamples, options.Seed);

        Estimate solveRate = bootstrap.Ratio(
            problems.Select(p => (double)p.Count(r => r.FinalPassesAll)).ToList(),
            problems.Select(p => (double)p.Count).ToList());

        var byTurnLimit = new List<TurnLimitSolveRate>();
        for (int limit = 1; limit <= turnLimit; limit++)
        {
            int l = limit;
            byTurnLimit.Add(new TurnLimitSolveRate(l, bootstrap.Mean(problems.Select(p => (double)p.Count(r => IsCorrect(r, l)) / p.Count).ToList())));
        }

        var metrics = new List<MetricResult>();
        var skipped = new List<SkippedMetric>();
        int[] reportedLimits = turnLimit == 1 ? [1] : [1, turnLimit]; // single-turn and multi-turn
        foreach (int limit in reportedLimits)
        {
            foreach (int k in options.PassAtK.Distinct())
            {
                string name = $"pass@{k}";
                if (k > minRollouts)
                {
                    skipped.Add(new SkippedMetric(name, limit, $"needs at least {k} rollouts per problem; the smallest problem has {minRollouts}"));
                    continue;
                }
                metrics.Add(new MetricResult(name, limit, bootstrap.Mean(problems
                    .Select(p => PassAtK.Estimate(p.Count, p.Count(r => IsCorrect(r, limit)), k)).ToList())));
            }
            foreach (NAtK nk in options.NAtK.Distinct())
            {
                int drawn = nk.RolloutsDrawn(limit);
                if (drawn < 1)
                {
                    skipped.Add(new SkippedMetric(nk.ToString(), limit, $"a budget of {nk.K} samples buys no rollout of {limit} turns"));
                    continue;
                }
                if (drawn > minRollouts)
                {
                    skipped.Add(new SkippedMetric(nk.ToString(), limit,
                        $"draws {drawn} rollouts of {limit} turn(s) per problem; the smallest problem has {minRollouts}"));
                    continue;
                }
                metrics.Add(new MetricResult(nk.ToString(), limit, bootstrap.Mean(problems.Select(p =>
                {
                    int publicPassing = p.Count(r => PassesPublicAt(r, limit));
                    int correct = p.Count(r => PassesPublicAt(r, limit) && IsCorrect(r, limit));
                    return NAtKEstimator.Estimate(p.Count, publicPassing, correct, nk.N, drawn);
                }).ToList())));
            }
        }

        BehaviourAnalysis behaviour = BehaviourAnalysis.Compute(problems, turnLimit, bootstrap);
        return new EvaluationReport(options, problemCount, rollouts.Count, minRollouts, maxRollouts, solveRate,
            byTurnLimit, metrics, skipped, behaviour);
    }

    /// <summary>The metric named <paramref name="name"/> at <paramref name="turnLimit"/>, or null when skipped or not requested.</summary>
    public MetricResult? Find(string name, int turnLimit) =>
        Metrics.FirstOrDefault(m => m.Name == name && m.TurnLimit == turnLimit);

    /// <summary>The rows the CLI prints: the solve rate, then every metric per reported turn limit.</summary>
    public IReadOnlyList<SummaryRow> ToTable()
    {
        var rows = new List<SummaryRow> { new("solve rate (rollouts)", SettingName(Options.TurnLimit, Options.TurnLimit), SolveRate) };
        foreach (TurnLimitSolveRate s in SolveRateByTurnLimit)
            rows.Add(new SummaryRow("solve rate by turn limit", SettingName(s.TurnLimit, Options.TurnLimit), s.Estimate));
        foreach (MetricResult m in Metrics)
            rows.Add(new SummaryRow(m.Name, SettingName(m.TurnLimit, Options.TurnLimit), m.Estimate));
        return rows;
    }

    /// <summary>The table as aligned plain text, with a header naming the run.</summary>
    public string ToText()
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"{Options.Dataset ?? "dataset"} · {Options.Policy ?? "policy"} · feedback {Options.FeedbackMode ?? "execution"} · " +
            $"{ProblemCount} problems · {RolloutsPerProblemText} rollouts/problem · 95% CI from {Options.BootstrapResamples} bootstrap resamples");
        IReadOnlyList<SummaryRow> rows = ToTable();
        int metricWidth = Math.Max(6, rows.Max(r => r.Metric.Length)), settingWidth = Math.Max(7, rows.Max(r => r.Setting.Length));
        text.AppendLine($"{"metric".PadRight(metricWidth)}  {"setting".PadRight(settingWidth)}  value [95% CI]");
        foreach (SummaryRow row in rows)
            text.AppendLine($"{row.Metric.PadRight(metricWidth)}  {row.Setting.PadRight(settingWidth)}  {row.Estimate.ToPercentText()}");
        foreach (SkippedMetric s in Skipped)
            text.AppendLine($"{s.Name.PadRight(metricWidth)}  {SettingName(s.TurnLimit, Options.TurnLimit).PadRight(settingWidth)}  skipped: {s.Reason}");
        return text.ToString();
    }

    public string RolloutsPerProblemText => MinRolloutsPerProblem == MaxRolloutsPerProblem
        ? MinRolloutsPerProblem.ToString(CultureInfo.InvariantCulture)
        : FormattableString.Invariant($"{MinRolloutsPerProblem}-{MaxRolloutsPerProblem}");

    /// <summary>Correct when cut at <paramref name="limit"/> turns: it ended by then and its final code passes all tests.</summary>
    internal static bool IsCorrect(RolloutSummary rollout, int limit) => rollout.Turns.Count <= limit && rollout.FinalPassesAll;

    /// <summary>The submission when cut at <paramref name="limit"/> turns (turn min(limit, turns)) passes the public tests.</summary>
    internal static bool PassesPublicAt(RolloutSummary rollout, int limit) =>
        rollout.Turns[Math.Min(limit, rollout.Turns.Count) - 1].PublicOutcome == TurnOutcome.Passed;

    private static IReadOnlyList<IReadOnlyList<RolloutSummary>> GroupByProblem(IReadOnlyList<RolloutSummary> rollouts, int turnLimit)
    {
        if (rollouts.Count == 0)
            throw new ArgumentException("no rollouts to evaluate", nameof(rollouts));
        var groups = new Dictionary<string, List<RolloutSummary>>(StringComparer.Ordinal);
        var order = new List<List<RolloutSummary>>();
        for (int i = 0; i < rollouts.Count; i++)
        {
            RolloutSummary r = rollouts[i] ?? throw new ArgumentException($"rollout #{i} is null", nameof(rollouts));
            if (string.IsNullOrEmpty(r.ProblemId))
                throw new ArgumentException($"rollout #{i}: ProblemId is empty", nameof(rollouts));
            if (r.Turns is null || r.Turns.Count == 0)
                throw new ArgumentException($"rollout #{i} (problem {r.ProblemId}): Turns is empty; a rollout has at least one turn", nameof(rollouts));
            if (r.Turns.Count > turnLimit)
                throw new ArgumentException($"rollout #{i} (problem {r.ProblemId}) has {r.Turns.Count} turns but the turn limit is {turnLimit}", nameof(rollouts));
            for (int t = 0; t < r.Turns.Count; t++)
                if (r.Turns[t] is null || !Enum.IsDefined(r.Turns[t].PublicOutcome))
                    throw new ArgumentException($"rollout #{i} (problem {r.ProblemId}), turn {t + 1}: missing or unknown PublicOutcome", nameof(rollouts));
            if (!groups.TryGetValue(r.ProblemId, out List<RolloutSummary>? group))
            {
                groups[r.ProblemId] = group = [];
                order.Add(group);
            }
            group.Add(r);
        }
        // By problem id, not by arrival: rollouts are stored in the order they finish, which varies from run to run,
        // and the bootstrap's resamples index problems, so the same rollouts must give the same intervals.
        return order.OrderBy(g => g[0].ProblemId, StringComparer.Ordinal).ToList();
    }
}
