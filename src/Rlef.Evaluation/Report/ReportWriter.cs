using System.Globalization;
using System.Text;
using System.Text.Json;
using Rlef.Environment;
using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Report;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation;

/// <summary>
/// Writes an <see cref="EvaluationReport"/> into a run directory: <c>summary.json</c> (machine-readable, rates as
/// fractions in [0, 1], undefined values as null), <c>report.md</c> (human-readable, percentages) and the two SVG
/// charts it shows, <c>solve_rate_by_turn_limit.svg</c> and <c>outcome_transitions.svg</c>.
/// </summary>
public static class ReportWriter
{
    public const string SummaryFile = "summary.json", MarkdownFile = "report.md";
    public const string SolveRateChartFile = "solve_rate_by_turn_limit.svg", TransitionsChartFile = "outcome_transitions.svg";
    public const string BudgetChartFile = "n_at_k_by_budget.svg";

    /// <summary>
    /// Writes the report's files. <paramref name="completeness"/> says what was requested and what is missing; without
    /// it, the report's rollouts are taken to be everything that was requested. With nothing evaluated
    /// (<paramref name="report"/> null), summary.json and report.md still say what was requested and why nothing was.
    /// </summary>
    public static void Write(string directory, EvaluationReport? report, Completeness? completeness = null)
    {
        completeness ??= CompleteFor(report ?? throw new ArgumentNullException(nameof(report), "nothing evaluated and no completeness given"));
        Directory.CreateDirectory(directory);
        if (report is null)
        {
            foreach (string chart in new[] { SolveRateChartFile, TransitionsChartFile, BudgetChartFile })
                File.Delete(Path.Combine(directory, chart));
            File.WriteAllText(Path.Combine(directory, SummaryFile), NothingEvaluatedJson(completeness));
            File.WriteAllText(Path.Combine(directory, MarkdownFile), "# RLEF evaluation report\n\nNo rollout finished.\n\n" + completeness.Markdown());
            return;
        }
        File.WriteAllText(Path.Combine(directory, SummaryFile), SummaryJson(report, completeness));
        File.WriteAllText(Path.Combine(directory, SolveRateChartFile), SvgCharts.SolveRateByTurnLimit(report));
        File.WriteAllText(Path.Combine(directory, TransitionsChartFile), SvgCharts.OutcomeTransitions(report));
        string budgetChart = Path.Combine(directory, BudgetChartFile);
        if (SvgCharts.NAtKByBudget(report) is string budget)
            File.WriteAllText(budgetChart, budget);
        else
            File.Delete(budgetChart); // a rerun with fewer n@k metrics must not leave the previous chart behind
        File.WriteAllText(Path.Combine(directory, MarkdownFile), Markdown(report, completeness));
    }

    /// <summary>Completeness of a report whose rollouts are all that was asked for.</summary>
    private static Completeness CompleteFor(EvaluationReport report) => new()
    {
        ProblemsRequested = report.ProblemCount,
        RolloutsPerProblem = report.MaxRolloutsPerProblem,
        RolloutsFinished = report.RolloutCount,
        RolloutsPassed = (int)Math.Round(report.SolveRate.Value * report.RolloutCount),
        NotEvaluated = [],
    };

    private static string NothingEvaluatedJson(Completeness completeness)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            completeness.WriteJson(json);
            Number(json, "solve_rate", completeness.SolveRateOverRequested);
            json.WriteString("solve_rate_basis", Completeness.SolveRateBasis);
            json.WriteNumber("problems", 0);
            json.WriteNumber("rollouts", 0);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    public static string SummaryJson(EvaluationReport report, Completeness? completeness = null)
    {
        completeness ??= CompleteFor(report);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, ReadableJson.WriterOptions(indented: true)))
        {
            EvaluationOptions o = report.Options;
            json.WriteStartObject();
            completeness.WriteJson(json);
            if (completeness.IsComplete)
            {
                Number(json, "solve_rate", report.SolveRate.Value);
                Interval(json, "solve_rate_ci", report.SolveRate);
            }
            else
            {
                // The headline stays honest: over everything requested, unevaluated = unsolved (no interval: the
                // missing rollouts are not a sample). The evaluated-only rate is kept, named as partial.
                Number(json, "solve_rate", completeness.SolveRateOverRequested);
                json.WriteNull("solve_rate_ci");
                json.WriteString("solve_rate_basis", Completeness.SolveRateBasis);
                Number(json, "solve_rate_evaluated_only", report.SolveRate.Value);
                Interval(json, "solve_rate_evaluated_only_ci", report.SolveRate);
                json.WriteString("metrics_scope", "partial: every metric below covers the evaluated rollouts only");
            }
            json.WriteNumber("problems", report.ProblemCount);
            json.WriteNumber("rollouts", report.RolloutCount);
            if (report.MinRolloutsPerProblem == report.MaxRolloutsPerProblem)
                json.WriteNumber("rollouts_per_problem", report.MinRolloutsPerProblem);
            else
            {
                json.WriteStartObject("rollouts_per_problem");
                json.WriteNumber("min", report.MinRolloutsPerProblem);
                json.WriteNumber("max", report.MaxRolloutsPerProblem);
                json.WriteEndObject();
            }

            json.WriteStartObject("options");
            json.WriteString("dataset", o.Dataset);
            json.WriteString("policy", o.Policy);
            json.WriteString("feedback_mode", o.FeedbackMode);
            if (o.RepairPolicy is not null)
                json.WriteString("repair_policy", o.RepairPolicy);
            if (o.FewShot is not null)
                json.WriteString("few_shot", o.FewShot);
            if (o.TemperatureRange is not null)
                json.WriteString("temperature_per_reply", o.TemperatureRange);
            json.WriteNumber("turn_limit", o.TurnLimit);
            json.WriteStartArray("turn_limits");
            foreach (int l in report.ReportedTurnLimits)
                json.WriteNumberValue(l);
            json.WriteEndArray();
            if (o.Temperature is double temperature)
                json.WriteNumber("temperature", temperature);
            json.WriteStartArray("n_at_k");
            foreach (NAtK nk in o.NAtK)
                json.WriteStringValue(nk.ToString());
            json.WriteEndArray();
            json.WriteStartArray("pass_at_k");
            foreach (int k in o.PassAtK)
                json.WriteNumberValue(k);
            json.WriteEndArray();
            json.WriteString("bootstrap_requested", o.Bootstrap.Name());
            json.WriteNumber("bootstrap_resamples", o.BootstrapResamples);
            json.WriteNumber("seed", o.Seed);
            json.WriteEndObject();
            json.WriteString("bootstrap", report.BootstrapMethod.Name());
            json.WriteString("confidence_interval", $"95%, {report.BootstrapMethod.Description()}, 2.5th/97.5th percentiles");
            json.WriteStartArray("warnings");
            foreach (string warning in report.Warnings)
                json.WriteStringValue(warning);
            json.WriteEndArray();

            json.WriteStartArray("solve_rate_by_turn_limit");
            foreach (TurnLimitSolveRate s in report.SolveRateByTurnLimit)
            {
                json.WriteStartObject();
                json.WriteNumber("turn_limit", s.TurnLimit);
                EstimateFields(json, s.Estimate);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("metrics");
            foreach (MetricResult m in report.Metrics)
            {
                json.WriteStartObject();
                json.WriteString("name", m.Name);
                json.WriteNumber("turn_limit", m.TurnLimit);
                json.WriteString("setting", m.TurnLimit == 1 ? "single_turn" : "multi_turn");
                EstimateFields(json, m.Estimate);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            json.WriteStartArray("skipped");
            foreach (SkippedMetric s in report.Skipped)
            {
                json.WriteStartObject();
                json.WriteString("name", s.Name);
                json.WriteNumber("turn_limit", s.TurnLimit);
                json.WriteString("reason", s.Reason);
                json.WriteEndObject();
            }
            json.WriteEndArray();

            WriteBehaviour(json, report.Behaviour);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteBehaviour(Utf8JsonWriter json, BehaviourAnalysis behaviour)
    {
        json.WriteStartObject("behaviour");
        json.WriteStartArray("outcomes_by_turn");
        foreach (OutcomeDistribution d in behaviour.OutcomesByTurn)
        {
            json.WriteStartObject();
            json.WriteNumber("turn", d.Turn);
            json.WriteNumber("rollouts", d.Rollouts);
            json.WriteStartObject("counts");
            foreach (TurnOutcome c in BehaviourAnalysis.Classes)
                json.WriteNumber(OutcomeNames.Key(c), d.Counts.GetValueOrDefault(c));
            json.WriteEndObject();
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("transitions");
        foreach (Transition t in behaviour.Transitions)
        {
            json.WriteStartObject();
            json.WriteNumber("from_turn", t.FromTurn);
            json.WriteString("from", OutcomeNames.Key(t.From));
            json.WriteString("to", OutcomeNames.Key(t.To));
            json.WriteNumber("count", t.Count);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("recovery");
        foreach (RecoveryRate r in behaviour.Recovery)
        {
            json.WriteStartObject();
            if (r.Turn is int turn)
                json.WriteNumber("turn", turn);
            else
                json.WriteString("turn", "any");
            json.WriteString("from", OutcomeNames.Key(r.From));
            json.WriteNumber("rollouts", r.Rollouts);
            EstimateFields(json, r.Rate);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteStartArray("code_change");
        foreach (CodeChange c in behaviour.CodeChanges)
        {
            json.WriteStartObject();
            json.WriteString("from", OutcomeNames.Key(c.From));
            json.WriteString("to", c.To is TurnOutcome to ? OutcomeNames.Key(to) : "any");
            json.WriteNumber("transitions", c.Transitions);
            EstimateFields(json, c.Mean);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteString("code_change_definition",
            "1 - chrF(next turn's code, previous turn's code); chrF: character 1..6-grams, whitespace removed, beta = 2 (sacrebleu defaults)");
        json.WriteEndObject();
    }

    private static void EstimateFields(Utf8JsonWriter json, Estimate estimate)
    {
        Number(json, "value", estimate.Value);
        Interval(json, "ci", estimate);
    }

    private static void Interval(Utf8JsonWriter json, string name, Estimate estimate)
    {
        json.WriteStartArray(name);
        NumberValue(json, estimate.CiLow);
        NumberValue(json, estimate.CiHigh);
        json.WriteEndArray();
    }

    // JSON has no NaN: an undefined value (a rate over zero rollouts) is written as null.
    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        json.WritePropertyName(name);
        NumberValue(json, value);
    }

    private static void NumberValue(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value))
            json.WriteNumberValue(Math.Round(value, 6));
        else
            json.WriteNullValue();
    }

    public static string Markdown(EvaluationReport report, Completeness? completeness = null)
    {
        completeness ??= CompleteFor(report);
        EvaluationOptions o = report.Options;
        int limit = o.TurnLimit;
        var md = new StringBuilder();
        void Line(string text = "") => md.Append(text).Append('\n');

        Line(completeness.IsComplete ? "# RLEF evaluation report" : "# RLEF evaluation report (INCOMPLETE)");
        Line();
        if (!completeness.IsComplete)
            md.Append(completeness.Markdown());
        Line("| | |");
        Line("|---|---|");
        Line($"| dataset | {Cell(o.Dataset ?? "-")} |");
        Line($"| policy | {Cell(o.Policy ?? "-")} |");
        if (o.RepairPolicy is not null)
            Line($"| repair policy (turns 2+) | {Cell(o.RepairPolicy)} |");
        if (o.FewShot is not null)
            Line($"| few-shot prompt | {Cell(o.FewShot)} |");
        Line($"| feedback | {Cell(o.FeedbackMode ?? "-")} |");
        if (o.TemperatureRange is not null)
            Line($"| temperature per reply | {Cell(o.TemperatureRange)} |");
        Line(Invariant($"| problems | {report.ProblemCount} |"));
        Line(Invariant($"| rollouts | {report.RolloutCount} ({report.RolloutsPerProblemText} per problem) |"));
        Line(Invariant($"| turn limit | {limit} |"));
        if (o.Temperature is double temperature)
            Line(Invariant($"| temperature | {temperature:G3} |"));
        Line(Invariant($"| confidence intervals | 95%, {report.BootstrapMethod.Description()}, {o.BootstrapResamples} resamples, seed {o.Seed} |"));
        Line();
        foreach (string warning in report.Warnings)
            Line($"> **Warning:** {Cell(warning)}");
        if (report.Warnings.Count > 0)
            Line();
        if (completeness.IsComplete)
        {
            Line($"**Solve rate** (share of rollouts whose final submission passes all tests): **{report.SolveRate.ToPercentText()}**");
            Line();
            md.Append(completeness.Markdown());
        }
        else
        {
            Line($"**Solve rate over all requested rollouts** (unevaluated counted as unsolved): **{Percent(completeness.SolveRateOverRequested)}**; " +
                 $"over the evaluated rollouts only (partial): {report.SolveRate.ToPercentText()}");
            Line();
        }

        Line("## Metrics");
        Line();
        IReadOnlyList<int> limits = report.ReportedTurnLimits;
        Line("| metric | " + string.Join(" | ", limits.Select(l => EvaluationReport.SettingName(l, limit))) + " |");
        Line("|---|" + string.Concat(limits.Select(_ => "---|")));
        foreach (string name in report.Metrics.Select(m => m.Name).Distinct())
            Line($"| {name} | " + string.Join(" | ", limits.Select(l => report.Find(name, l)?.Estimate.ToPercentText() ?? "-")) + " |");
        Line();
        Line("pass@k treats each rollout as a sample (Chen et al.'s unbiased estimator). n@k counts every model reply as a " +
             "sample: at turn limit L a rollout costs L samples, so k' = ⌊k / L⌋ rollouts are drawn, and up to n of those " +
             "that pass the public tests are submitted (AlphaCode's estimator, in closed form). Single-turn keeps only each " +
             "rollout's first reply.");
        foreach (SkippedMetric s in report.Skipped)
            Line($"- {s.Name} ({EvaluationReport.SettingName(s.TurnLimit, limit)}) skipped: {Cell(s.Reason)}");
        Line();
        if (SvgCharts.NAtKByBudget(report) is not null)
        {
            Line("n@k against the sampling budget k (the paper's Fig. 4, right), one line per turn limit:");
            Line();
            Line($"![n@k by sampling budget]({BudgetChartFile})");
            Line();
        }

        Line("## Solve rate by turn limit");
        Line();
        Line($"![Solve rate by turn limit]({SolveRateChartFile})");
        Line();
        Line("| turn limit | solve rate [95% CI] |");
        Line("|---|---|");
        foreach (TurnLimitSolveRate s in report.SolveRateByTurnLimit)
            Line(Invariant($"| {s.TurnLimit} | {s.Estimate.ToPercentText()} |"));
        Line();
        Line("A rollout cut at limit L counts as solved when its episode ended by turn L and its final code passes all tests.");
        Line();

        BehaviourAnalysis b = report.Behaviour;
        Line("## Public-test outcomes per turn");
        Line();
        Line($"![Outcome transitions]({TransitionsChartFile})");
        Line();
        Line("| turn | rollouts | " + string.Join(" | ", BehaviourAnalysis.Classes.Select(OutcomeNames.Label)) + " |");
        Line("|---|---|" + string.Concat(BehaviourAnalysis.Classes.Select(_ => "---|")));
        foreach (OutcomeDistribution d in b.OutcomesByTurn)
            Line(Invariant($"| {d.Turn} | {d.Rollouts} | ") + string.Join(" | ", BehaviourAnalysis.Classes.Select(c => Percent(d.Share(c)))) + " |");
        Line();

        for (int t = 1; t < limit; t++)
        {
            List<Transition> moves = b.Transitions.Where(m => m.FromTurn == t).ToList();
            if (moves.Count == 0)
                continue;
            Line(Invariant($"### Transitions turn {t} → {t + 1}"));
            Line();
            Line("| from \\ to | " + string.Join(" | ", BehaviourAnalysis.Classes.Select(OutcomeNames.Label)) + " | rollouts |");
            Line("|---|" + string.Concat(BehaviourAnalysis.Classes.Select(_ => "---|")) + "---|");
            foreach (TurnOutcome from in BehaviourAnalysis.Classes)
            {
                int rowTotal = moves.Where(m => m.From == from).Sum(m => m.Count);
                if (rowTotal == 0)
                    continue;
                IEnumerable<string> cells = BehaviourAnalysis.Classes.Select(to =>
                    Percent((double)moves.Where(m => m.From == from && m.To == to).Sum(m => m.Count) / rowTotal));
                Line($"| {OutcomeNames.Label(from)} | " + string.Join(" | ", cells) + Invariant($" | {rowTotal} |"));
            }
            Line();
        }

        Line("## Recovery");
        Line();
        Line("Share of rollouts in a class at a turn before the last whose final submission passes all tests (\"any\": every such turn counted once).");
        Line();
        Line("| turn | from | rollouts | recovered [95% CI] |");
        Line("|---|---|---|---|");
        foreach (RecoveryRate r in b.Recovery)
        {
            string turn = r.Turn is int t ? t.ToString(CultureInfo.InvariantCulture) : "any";
            Line(Invariant($"| {turn} | {OutcomeNames.Label(r.From)} | {r.Rollouts} | {r.Rate.ToPercentText()} |"));
        }
        Line();

        Line("## Code change between consecutive turns");
        Line();
        Line("1 − chrF of the next turn's code against the previous turn's code (chrF: character 1..6-grams with whitespace " +
             "removed, precision and recall averaged over orders, β = 2; sacrebleu's defaults). 0 = unchanged, 1 = nothing " +
             "in common. Turns without code are left out.");
        Line();
        Line("| from | to | transitions | mean change [95% CI] |");
        Line("|---|---|---|---|");
        foreach (CodeChange c in b.CodeChanges)
        {
            string to = c.To is TurnOutcome next ? OutcomeNames.Label(next) : "**any**";
            Line(Invariant($"| {OutcomeNames.Label(c.From)} | {to} | {c.Transitions} | {ChangeText(c.Mean)} |"));
        }
        return md.ToString();
    }

    private static string ChangeText(Estimate e) =>
        e.IsDefined ? Invariant($"{e.Value:0.000} [{e.CiLow:0.000}, {e.CiHigh:0.000}]") : "n/a";

    private static string Percent(double share) => double.IsNaN(share) ? "-" : Invariant($"{100 * share:0.0}%");

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
