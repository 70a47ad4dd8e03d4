using System.Globalization;
using System.Text.Json;

namespace Rlef.Evaluation;

/// <summary>A requested problem with rollouts that did not finish, and why (docs/protocol.md §4).</summary>
public sealed record NotEvaluated(string ProblemId, int RolloutsFinished, int RolloutsMissing, string Reason);

/// <summary>
/// How much of what was asked an evaluation covers. Every summary.json and report.md carries it, so a run that lost
/// rollouts to infrastructure errors can never pass for a complete one: its status says "incomplete", its headline
/// solve rate is over all requested rollouts with the unevaluated ones counted as unsolved, and its other metrics are
/// marked partial (they cover the evaluated rollouts only).
/// </summary>
public sealed record Completeness
{
    public required int ProblemsRequested { get; init; }
    public required int RolloutsPerProblem { get; init; }
    public required int RolloutsFinished { get; init; }
    /// <summary>Finished rollouts whose final submission passes all tests.</summary>
    public required int RolloutsPassed { get; init; }
    public IReadOnlyList<NotEvaluated> NotEvaluated { get; init; } = [];
    /// <summary>Why the run stopped before trying everything (e.g. the endpoint was unreachable), or null.</summary>
    public string? StoppedReason { get; init; }
    /// <summary>What loading the data said (a record repeating an earlier one exactly, kept once).</summary>
    public IReadOnlyList<string> DataNotes { get; init; } = [];

    public int RolloutsRequested => ProblemsRequested * RolloutsPerProblem;
    public int ProblemsNotEvaluated => NotEvaluated.Count;
    public int ProblemsEvaluated => ProblemsRequested - ProblemsNotEvaluated;
    public bool IsComplete => NotEvaluated.Count == 0 && RolloutsFinished == RolloutsRequested;
    public string Status => IsComplete ? "complete" : "incomplete";

    /// <summary>The headline: passing rollouts over all requested rollouts (an unevaluated rollout counts as unsolved).</summary>
    public double SolveRateOverRequested => RolloutsRequested == 0 ? double.NaN : (double)RolloutsPassed / RolloutsRequested;

    public const string SolveRateBasis = "share of all requested rollouts whose final submission passes all tests; a rollout that was not evaluated counts as unsolved";

    /// <summary>
    /// From the requested problems and the rollouts that finished: a problem is evaluated when all its rollouts
    /// finished; otherwise it is listed with the reason its rollouts are missing (<paramref name="reasons"/>, by problem).
    /// </summary>
    public static Completeness From(IReadOnlyList<string> requestedProblems, int rolloutsPerProblem, IReadOnlyList<RolloutSummary> finished,
        IReadOnlyDictionary<string, string> reasons, string? stoppedReason)
    {
        var counts = finished.GroupBy(r => r.ProblemId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var missing = new List<NotEvaluated>();
        foreach (string id in requestedProblems)
        {
            int done = counts.GetValueOrDefault(id);
            if (done < rolloutsPerProblem)
                missing.Add(new NotEvaluated(id, done, rolloutsPerProblem - done, reasons.GetValueOrDefault(id) ?? "not attempted"));
        }
        return new Completeness
        {
            ProblemsRequested = requestedProblems.Count,
            RolloutsPerProblem = rolloutsPerProblem,
            RolloutsFinished = finished.Count,
            RolloutsPassed = finished.Count(r => r.FinalPassesAll),
            NotEvaluated = missing,
            StoppedReason = stoppedReason,
        };
    }

    /// <summary>The status, counts and reasons as the first fields of summary.json.</summary>
    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteString("status", Status);
        json.WriteStartObject("completeness");
        json.WriteNumber("problems_requested", ProblemsRequested);
        json.WriteNumber("problems_evaluated", ProblemsEvaluated);
        json.WriteNumber("problems_not_evaluated", ProblemsNotEvaluated);
        json.WriteNumber("rollouts_requested", RolloutsRequested);
        json.WriteNumber("rollouts_finished", RolloutsFinished);
        if (StoppedReason is not null)
            json.WriteString("stopped", StoppedReason);
        if (DataNotes.Count > 0)
        {
            json.WriteStartArray("data_notes");
            foreach (string note in DataNotes)
                json.WriteStringValue(note);
            json.WriteEndArray();
        }
        json.WriteStartArray("not_evaluated");
        foreach (NotEvaluated n in NotEvaluated)
        {
            json.WriteStartObject();
            json.WriteString("task_id", n.ProblemId);
            json.WriteNumber("rollouts_finished", n.RolloutsFinished);
            json.WriteNumber("rollouts_missing", n.RolloutsMissing);
            json.WriteString("reason", n.Reason);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The report.md section that states coverage (and, for an incomplete run, says so first).</summary>
    public string Markdown()
    {
        var md = new System.Text.StringBuilder();
        void Line(string text = "") => md.Append(text).Append('\n');
        if (!IsComplete)
        {
            int missing = RolloutsRequested - RolloutsFinished;
            Line(Invariant($"> **INCOMPLETE EVALUATION**: {ProblemsNotEvaluated} of {ProblemsRequested} requested problems were not (fully) evaluated ({missing} of {RolloutsRequested} rollouts missing).") +
                 " The headline solve rate counts them as unsolved; every other figure below is **partial**: it covers the evaluated rollouts only." +
                 " Rerun the same command to complete the run.");
            if (StoppedReason is not null)
                Line($"> The run stopped: {Cell(StoppedReason)}");
            Line();
        }
        Line("## Coverage");
        Line();
        Line("| | |");
        Line("|---|---|");
        Line($"| status | {Status} |");
        Line(Invariant($"| problems requested | {ProblemsRequested} |"));
        Line(Invariant($"| problems evaluated | {ProblemsEvaluated} |"));
        Line(Invariant($"| problems not evaluated | {ProblemsNotEvaluated} |"));
        Line(Invariant($"| rollouts finished / requested | {RolloutsFinished} / {RolloutsRequested} |"));
        Line(Invariant($"| solve rate over all requested rollouts (unevaluated = unsolved) | {Percent(SolveRateOverRequested)} |"));
        Line();
        if (DataNotes.Count > 0)
        {
            Line(Invariant($"Loading the data: {DataNotes.Count} record(s) repeat an earlier record exactly and were evaluated once:"));
            Line();
            foreach (string note in DataNotes.Take(MarkdownRows))
                Line($"- {Cell(note)}");
            Line();
        }
        if (NotEvaluated.Count > 0)
        {
            Line("| not evaluated | rollouts missing | why |");
            Line("|---|---|---|");
            foreach (NotEvaluated n in NotEvaluated.Take(MarkdownRows))
                Line(Invariant($"| {Cell(n.ProblemId)} | {n.RolloutsMissing} | {Cell(n.Reason)} |"));
            if (NotEvaluated.Count > MarkdownRows)
                Line(Invariant($"| … {NotEvaluated.Count - MarkdownRows} more (all in summary.json) | | |"));
            Line();
        }
        return md.ToString();
    }

    private const int MarkdownRows = 50;

    private static string Percent(double share) => double.IsNaN(share) ? "-" : Invariant($"{100 * share:0.0}%");
    private static string Cell(string text)
    {
        string cell = text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
        return cell.Length <= 300 ? cell : cell[..300] + "…";
    }
    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
