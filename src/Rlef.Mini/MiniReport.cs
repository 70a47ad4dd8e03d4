using System.Globalization;
using System.Text;
using System.Text.Json;
using Rlef.Environment.Episodes;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Evaluation;
using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Report;
using Rlef.Evaluation.Statistics;
using Rlef.Training.Config;
using Rlef.Training.Runs;

namespace Rlef.Mini;

/// <summary>One point of the training curve: the rollouts of one iteration (and the validation after it, if any).</summary>
public sealed record TrainingPoint(long Iteration, long LastStep, double SolveRate, double MeanReturn, double? ValidSolveRate);

/// <summary>
/// A row of the report's targets: a finding of the paper (docs/protocol.md §5) that the miniature reproduces, or a
/// condition of the miniature itself, and whether this run meets it (null: not applicable to this run).
/// </summary>
public sealed record MiniTarget(string Target, string Measured, bool? Met, string Paper = "");

/// <summary>One paired comparison of the report: under the requested (paper's) bootstrap and under the problem bootstrap.</summary>
public sealed record MiniComparison(string Key, string Label, PairedDifference Paired, PairedDifference ByProblems);

public sealed record MiniReportResult(string ReportPath, IReadOnlyDictionary<string, EvaluationReport> Evaluations,
    IReadOnlyList<TrainingPoint> Curve, IReadOnlyList<MiniTarget> Targets, double WallSeconds, IReadOnlyList<MiniComparison> Comparisons);

/// <summary>
/// The report of a `rlef mini` run, computed only from what the run stored: each evaluation's rollouts.jsonl (metrics
/// recomputed with Rlef.Evaluation, 95% bootstrap CIs over problems), the training run's metrics.jsonl and config,
/// and phases.json. Writes one markdown file and its SVG charts beside it (named after the markdown file).
/// </summary>
public static class MiniReport
{
    const string Start = "#E69F00", Trained = "#0072B2";

    public static MiniReportResult Write(string outputDirectory, string reportPath, string command, PhaseTimes phases)
    {
        MiniRun.Settings settings = MiniRun.ReadSettings(outputDirectory);
        string startModel = Shown(settings.ModelDirectory);
        int turns = settings.TurnLimit;
        var evaluations = new Dictionary<string, EvaluationReport>();
        var rollouts = new Dictionary<string, IReadOnlyList<RolloutSummary>>();
        var policies = new Dictionary<string, string>();
        foreach (string name in MiniRun.Evaluations)
        {
            string dir = Path.Combine(outputDirectory, "eval", name);
            var run = JsonSerializer.Deserialize<RunSettings>(File.ReadAllText(Path.Combine(dir, EvaluationRun.SettingsFile)), RolloutStore.Json)
                ?? throw new InvalidDataException($"{dir}: empty {EvaluationRun.SettingsFile}");
            // The report only ever shows complete evaluations (an incomplete one has stopped the miniature already).
            string summary = Path.Combine(dir, ReportWriter.SummaryFile);
            using (var doc = JsonDocument.Parse(File.ReadAllText(summary)))
                if (!doc.RootElement.TryGetProperty("status", out var status) || status.GetString() != "complete")
                    throw new InvalidDataException($"{summary}: the evaluation is incomplete; rerun `rlef mini` to complete it");
            var feedback = Enum.Parse<FeedbackMode>(run.Feedback, ignoreCase: true);
            IReadOnlyList<Rollout> stored = RolloutStore.Read(Path.Combine(dir, EvaluationRun.RolloutsFile));
            evaluations[name] = MiniEvaluation.Compute(stored, run.Policy, feedback, turns);
            rollouts[name] = stored.Select(RolloutSummary.From).ToList();
            policies[name] = run.Policy;
        }
        string trainDir = Path.Combine(outputDirectory, "train");
        RlefConfig config = ConfigLoader.Load(Path.Combine(trainDir, RunDirectory.ConfigFileName));
        IReadOnlyList<TrainingPoint> curve = ReadCurve(Path.Combine(trainDir, MetricsLog.JsonlFileName), config.Rollout.UpdatesPerIteration);
        var source = JsonSerializer.Deserialize<MiniRun.TrainedSource>(
            File.ReadAllText(Path.Combine(outputDirectory, "trained", MiniRun.SourceFile)), MiniRun.Json)!;

        Estimate Metric(string eval, int limit) => evaluations[eval].Find("1@3", limit)?.Estimate ?? new Estimate(double.NaN, double.NaN, double.NaN);
        IReadOnlyList<MiniComparison> comparisons = Comparisons(rollouts, turns);
        MiniComparison Compared(string key) => comparisons.Single(c => c.Key == key);
        Estimate startMt = Metric("start-real", turns), trainedMt = Metric("trained-real", turns);
        Estimate trainedSt = Metric("trained-real", 1), trainedRandom = Metric("trained-random", turns);
        bool full = settings.Preset == "full";
        EvaluationReport startEval = evaluations["start-real"], trainedEval = evaluations["trained-real"];
        AfterFailure startAfter = startEval.Behaviour.AfterFailure, trainedAfter = trainedEval.Behaviour.AfterFailure;
        // A finding comparing two settings holds on the full preset when its paired 95% CI excludes 0 on the right
        // side, and on the quick preset (60 problems) by point estimate (docs/mini.md, "Findings").
        bool Holds(string key) => Decisive(Compared(key)) is var d && (full ? d.Difference.CiLow > 0 : d.Difference.Value > 0);
        string Paired(string key) => $"{Decisive(Compared(key)).ToText()} ({MethodName(Decisive(Compared(key)))})";
        var targets = new List<MiniTarget>
        {
            new("the start leaves room to learn: it solves 15-50% (multi-turn 1@3)", startMt.ToPercentText(), startMt.Value is >= 0.15 and <= 0.50),
            new("(a) before RLEF, later turns add little: start multi-turn − single-turn, paired CI contains 0 or lies within ±5 points",
                Paired("start-mt-st"), Decisive(Compared("start-mt-st")) is var a && (!a.ExcludesZero || Math.Max(Math.Abs(a.Difference.CiLow), Math.Abs(a.Difference.CiHigh)) <= 0.05),
                "Llama 3.1 Instruct before RLEF: little gain from turns 2-3 at an equal sample budget (paper, Fig. 1)"),
            new("(b) RLEF raises multi-turn 1@3: after RLEF − start, paired CI above 0", Paired("trained-start-mt") +
                I($"; separate CIs: start {startMt.ToPercentText()}, trained {trainedMt.ToPercentText()}"), Holds("trained-start-mt"),
                "CodeContests test 1@3: 8B 10.5 → 16.1, 70B 27.5 → 40.1 (paper, Table 1)"),
            new("(c) after RLEF the policy gains from later turns: multi-turn − single-turn, paired CI above 0", Paired("trained-mt-st"), Holds("trained-mt-st"),
                "8B + RLEF, 1@3 single- / multi-turn: HumanEval+ 67.5 / 69.5, MBPP+ 57.0 / 63.1 (paper, Table 2)"),
            new("(d) after RLEF the policy uses the feedback: true − random feedback (multi-turn), paired CI above 0", Paired("trained-true-random"), Holds("trained-true-random"),
                "random feedback costs the RLEF model most of its multi-turn gain (paper, §5.3 ablations); RL without feedback: 10.9 vs RLEF 16.1 (test)"),
            new("(e) after RLEF a failing turn is repaired more often: repair rate (next turn passes), trained CI above start CI",
                I($"{startAfter.RepairRate.ToPercentText()} of {startAfter.Transitions} → {trainedAfter.RepairRate.ToPercentText()} of {trainedAfter.Transitions}; ") +
                I($"code change after a failure (1 − chrF) {MeanText(startAfter.CodeChange)} → {MeanText(trainedAfter.CodeChange)}"),
                full ? trainedAfter.RepairRate.CiLow > startAfter.RepairRate.CiHigh : trainedAfter.RepairRate.Value > startAfter.RepairRate.Value,
                "after RLEF, more recoveries from wrong outputs and errors, and larger code changes after a failure (paper, §5.3 behaviour analysis, Fig. 6)"),
            new("the full default run fits the machine: <= 60 min", I($"{phases.Total / 60:0.0} min ({settings.Preset} preset)"), full ? phases.Total <= 3600 : null),
        };

        string directory = Path.GetDirectoryName(Path.GetFullPath(reportPath))!;
        Directory.CreateDirectory(directory);
        string stem = Path.GetFileNameWithoutExtension(reportPath);
        string Chart(string suffix, string svg)
        {
            string file = $"{stem}-{suffix}.svg";
            File.WriteAllText(Path.Combine(directory, file), svg);
            return file;
        }

        string[] settingsNames = ["single-turn", $"multi-turn ({turns} turns)", "multi-turn, random feedback"];
        string comparison = Chart("comparison", SvgCharts.GroupedBars("1@3 on the test split: start vs after RLEF", settingsNames,
        [
            new("start", Start, [Metric("start-real", 1), startMt, Metric("start-random", turns)]),
            new("after RLEF", Trained, [trainedSt, trainedMt, trainedRandom]),
        ]));
        string[] limits = Enumerable.Range(1, turns).Select(l => $"turn limit {l}").ToArray();
        string byLimit = Chart("turn-limit", SvgCharts.GroupedBars("pass@1 (solve rate) by turn limit, real feedback", limits,
        [
            new("start", Start, evaluations["start-real"].SolveRateByTurnLimit.Select(s => s.Estimate).ToList()),
            new("after RLEF", Trained, evaluations["trained-real"].SolveRateByTurnLimit.Select(s => s.Estimate).ToList()),
        ]));
        string startFlow = Chart("transitions-start", SvgCharts.OutcomeTransitions(evaluations["start-real"]));
        string trainedFlow = Chart("transitions-trained", SvgCharts.OutcomeTransitions(evaluations["trained-real"]));
        string training = Chart("training", SvgCharts.Lines("RLEF training: rollouts of each iteration", "iteration",
        [
            new("rollout solve rate", "#009E73", curve.Where(p => p.Iteration > 0).Select(p => ((double)p.Iteration, p.SolveRate)).ToList()),
            new("mean return", "#CC79A7", curve.Where(p => p.Iteration > 0).Select(p => ((double)p.Iteration, p.MeanReturn)).ToList()),
            new("validation solve rate", "#0072B2", curve.Where(p => p.ValidSolveRate is not null).Select(p => ((double)p.Iteration, p.ValidSolveRate!.Value)).ToList(), Dots: true),
        ], -1.5, 1.0));

        var md = new StringBuilder();
        void L(string text = "") => md.Append(text).Append('\n');
        EvaluationReport sr = evaluations["start-real"], tr = evaluations["trained-real"];
        L("# RLEF in miniature: report of one `rlef mini` run");
        L();
        L($"Command: `{command}` (preset `{settings.Preset}`). Written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC on a machine with " +
          I($"{System.Environment.ProcessorCount} cores. **Wall time of the whole run: {phases.Total / 60:0.0} min** (phases below)."));
        L();
        L(I($"Starting policy: `{startModel}`; trained policy: the checkpoint at update {source.Step} ({source.Selection}") +
          (source.Step == 0 ? ": no later validation beat the starting policy, so the trained policy is the start itself" : "") +
          (source.ValidSolveRate is { } v ? I($", validation solve rate {100 * v:0.0}%") : "") + ").");
        L(I($"Test split: {sr.ProblemCount} generated problems, {sr.RolloutsPerProblemText} rollouts each, up to {turns} turns, ") +
          I($"temperature {settings.Temperature}, top-p {settings.TopP}; the random-feedback ablation {evaluations["start-random"].RolloutsPerProblemText} rollout(s) per problem. Every figure is computed from the stored rollouts ") +
          I($"(`eval/*/rollouts.jsonl` in the run directory) with a 95% CI: {sr.BootstrapMethod.Description()}, 200 resamples") +
          (sr.BootstrapNote is null ? "." : $" ({sr.BootstrapNote})."));
        L();

        L("## The paper's findings, in miniature");
        L();
        L("What the paper found, (a)-(e), checked on this run's test split, with the two conditions of a miniature (a start that leaves room to improve, a run that fits the machine). " +
          (full ? "On the full preset a comparison is reproduced when its paired 95% interval excludes 0 on the stated side"
                : "On the quick preset (few problems) a comparison is reproduced by its point estimate; the interval is shown") +
          "; the interval is the paper's bootstrap over rollouts where both sides have the same rollouts per problem and single-turn is not involved, otherwise the bootstrap over problems (named in each row; all rows are below).");
        L();
        L("| finding | measured | reproduced? | the paper |");
        L("|---|---|---|---|");
        foreach (MiniTarget t in targets)
            L($"| {t.Target} | {t.Measured} | {(t.Met is null ? "n/a" : t.Met.Value ? "**yes**" : "**no**")} | {t.Paper} |");
        L();

        L("## Paired differences (test split, 1@3)");
        L();
        L("Each row compares two settings on the same test problems with one set of bootstrap resamples applied to both " +
          "(docs/protocol.md §4): the same problems and, for the bootstrap over rollouts, the same rollout indices (evaluations " +
          "seed sampling per problem, rollout and turn, so rollout i of the start and of the trained policy share their random " +
          "numbers). \"Rollouts\" is the paper's bootstrap (App. B.1: each problem's results redrawn with replacement; it " +
          "treats the test problems as fixed); \"problems\" also redraws the problems, so it asks whether the difference would " +
          "hold on other generated problems. A difference is significant at the 5% level when its interval excludes 0.");
        L();
        // Whether the split resolves effects of the size the findings need: the widest interval's half-width.
        var widths = comparisons.SelectMany(c => new[] { c.Paired.Difference, c.ByProblems.Difference })
            .Where(e => e.IsDefined).Select(e => 100 * (e.CiHigh - e.CiLow) / 2).ToList();
        if (widths.Count > 0)
        {
            L(I($"Size of the test split: {comparisons[0].ByProblems.Problems} problems with {evaluations["start-real"].RolloutsPerProblemText} rollouts each. ") +
              I($"The paired intervals below are ±{widths.Min():0.0} to ±{widths.Max():0.0} points wide, so on every row a difference larger than about {widths.Max():0} points excludes 0") +
              (full ? "; the findings' differences are judged at that resolution." : "; too coarse for the findings, which the quick preset judges by point estimates."));
            L();
        }
        L("| comparison | first | second | difference (points) | 95% CI, rollouts (paper) | 95% CI, problems | excludes 0 |");
        L("|---|---|---|---|---|---|---|");
        foreach (MiniComparison c in comparisons)
        {
            string rolloutsCi = c.Paired.Method == BootstrapMethod.Rollouts
                ? Interval(c.Paired.Difference) + (c.Paired.Note is null ? "" : " (biased†)")
                : "n/a (one rollout per problem)";
            string excludes = c.Paired.Method == BootstrapMethod.Rollouts
                ? $"{YesNo(c.Paired.ExcludesZero)} (rollouts), {YesNo(c.ByProblems.ExcludesZero)} (problems)"
                : $"{YesNo(c.ByProblems.ExcludesZero)} (problems)";
            L(I($"| {c.Label} | {c.Paired.FirstValue.ToPercentText()} | {c.Paired.SecondValue.ToPercentText()} | {100 * c.Paired.Difference.Value:+0.0;-0.0;0.0} | {rolloutsCi} | {Interval(c.ByProblems.Difference)} | {excludes} |"));
        }
        L();
        if (comparisons.FirstOrDefault(c => c.Paired.Method == BootstrapMethod.Rollouts && c.Paired.Note is not null) is { } biased)
        {
            L($"† {biased.Paired.Note}. Single-turn 1@3 draws all {evaluations["start-real"].MinRolloutsPerProblem} rollouts of a problem, so read its comparisons by the bootstrap over problems.");
            L();
        }
        L("Random feedback (docs/protocol.md §4): " + (settings.RandomFeedbackSource == "dataset"
            ? "each feedback message is what an incorrect solution of another test problem (the generated problems' `incorrect_solutions`, the paper's donors) gets on this problem's public tests."
            : "each feedback message is what one of the evaluated policy's own failed programs for another test problem (from its real-feedback evaluation) gets on this problem's public tests; the paper takes the dataset's incorrect solutions instead.") +
          I($" The random-feedback evaluations have {evaluations["trained-random"].RolloutsPerProblemText} rollout(s) per problem, ") +
          (Compared("trained-true-random").Paired.Method == BootstrapMethod.Rollouts
              ? "as many as the real-feedback ones, so true vs random feedback is paired rollout by rollout under the paper's bootstrap."
              : "so their comparisons use the bootstrap over problems."));
        L();

        L("## Start vs after RLEF (test split)");
        L();
        L($"![1@3 start vs trained]({comparison})");
        L();
        L("| metric | start | after RLEF | change (points) |");
        L("|---|---|---|---|");
        void Row(string label, Estimate a, Estimate b) =>
            L($"| {label} | {a.ToPercentText()} | {b.ToPercentText()} | {I($"{100 * (b.Value - a.Value):+0.0;-0.0;0.0}")} |");
        Row("1@3 single-turn", Metric("start-real", 1), trainedSt);
        Row($"1@3 multi-turn ({turns} turns)", startMt, trainedMt);
        Row("1@3 multi-turn, random feedback", Metric("start-random", turns), trainedRandom);
        Row("solve rate of rollouts, real feedback", sr.SolveRate, tr.SolveRate);
        Row("solve rate of rollouts, random feedback", evaluations["start-random"].SolveRate, evaluations["trained-random"].SolveRate);
        for (int l = 1; l <= turns; l++)
            Row($"pass@1 at turn limit {l}", sr.SolveRateByTurnLimit[l - 1].Estimate, tr.SolveRateByTurnLimit[l - 1].Estimate);
        L();
        L("1@3 single-turn: up to 3 independent first replies, one of those passing the public tests is submitted; multi-turn: " +
          "one rollout of up to 3 turns with execution feedback (n@k with AlphaCode's estimator, every reply a sample). Random " +
          "feedback replaces each feedback message by the one an incorrect program of another test problem gets on this problem's " +
          "public tests (docs/protocol.md §4; donors above). pass@1 at turn limit L: a rollout cut after L turns counts when it ended by then and its code passes all tests.");
        L();
        L($"![pass@1 by turn limit]({byLimit})");
        L();

        L("## Outcomes per turn and transitions (real feedback)");
        L();
        L($"Start: ![outcome transitions, start]({startFlow})");
        L();
        L($"After RLEF: ![outcome transitions, trained]({trainedFlow})");
        L();
        L("| turn | policy | rollouts | " + string.Join(" | ", BehaviourAnalysis.Classes.Select(OutcomeNames.Label)) + " |");
        L("|---|---|---|" + string.Concat(BehaviourAnalysis.Classes.Select(_ => "---|")));
        for (int t = 0; t < turns; t++)
            foreach ((string name, EvaluationReport r) in new[] { ("start", sr), ("after RLEF", tr) })
                if (t < r.Behaviour.OutcomesByTurn.Count)
                {
                    OutcomeDistribution d = r.Behaviour.OutcomesByTurn[t];
                    L(I($"| {d.Turn} | {name} | {d.Rollouts} | ") + string.Join(" | ", BehaviourAnalysis.Classes.Select(c => Percent(d.Share(c)))) + " |");
                }
        L();
        L("Transitions between consecutive turns (rollouts; an episode stops once the public tests pass):");
        L();
        L("| turn | from | to | start | after RLEF |");
        L("|---|---|---|---|---|");
        var keys = sr.Behaviour.Transitions.Concat(tr.Behaviour.Transitions).Where(m => m.Count > 0)
            .Select(m => (m.FromTurn, m.From, m.To)).Distinct().OrderBy(k => k.FromTurn).ThenBy(k => k.From).ThenBy(k => k.To);
        int Count(EvaluationReport r, (int FromTurn, TurnOutcome From, TurnOutcome To) k) =>
            r.Behaviour.Transitions.Where(m => m.FromTurn == k.FromTurn && m.From == k.From && m.To == k.To).Sum(m => m.Count);
        foreach (var k in keys)
            L(I($"| {k.FromTurn} → {k.FromTurn + 1} | {OutcomeNames.Label(k.From)} | {OutcomeNames.Label(k.To)} | {Count(sr, k)} | {Count(tr, k)} |"));
        L();

        // How much the code changes after a failure (docs/protocol.md §4): an instruct model often resubmits what failed.
        L("Code change between consecutive turns, 1 − chrF of the next turn's code against this turn's (0 = the same program again; mean over transitions, 95% CI):");
        L();
        L("| from | start | after RLEF |");
        L("|---|---|---|");
        string Change(EvaluationReport r, TurnOutcome from) =>
            r.Behaviour.CodeChanges.FirstOrDefault(c => c.From == from && c.To is null) is { Transitions: > 0 } c
                ? I($"{c.Mean.Value:0.00} [{c.Mean.CiLow:0.00}, {c.Mean.CiHigh:0.00}] ({c.Transitions})") : "-";
        foreach (TurnOutcome from in BehaviourAnalysis.Classes.Where(c => c != TurnOutcome.Passed))
            if (Change(sr, from) != "-" || Change(tr, from) != "-")
                L($"| {OutcomeNames.Label(from)} | {Change(sr, from)} | {Change(tr, from)} |");
        L();

        L("## Training");
        L();
        L($"![training curve]({training})");
        L();
        string baseline = config.Ppo.Baseline == AdvantageBaseline.GroupMean
            ? I($"advantages against the mean return of the problem's other {config.Rollout.RolloutsPerProblem - 1} rollouts")
            : "turn-level value network";
        L(I($"RLEF (PPO, {baseline}, per-turn KL to the starting policy) from `{startModel}`: ") +
          I($"{config.Schedule.TotalUpdates} updates = {curve.Count(p => p.Iteration > 0)} iterations of {config.Rollout.RolloutsPerIteration} rollouts ") +
          I($"({config.Rollout.UpdatesPerIteration} minibatch updates each), learning rate {config.Optimizer.LearningRate:G3} with ") +
          I($"{config.Optimizer.WarmupSteps} warm-up updates, β = {config.Reward.KlCoefficient:G3}, temperature {config.Rollout.Temperature:G3}, ") +
          I($"{config.Rollout.MaxReplyTokens} tokens per reply; validation on {config.Data.ValidProblems} problems every {config.Schedule.EvalEvery} updates."));
        L();
        L("| iteration | updates | rollout solve rate | mean return | validation solve rate |");
        L("|---|---|---|---|---|");
        foreach (TrainingPoint p in curve)
            L((p.Iteration == 0 ? "| 0 (start) | 0 | | | " : I($"| {p.Iteration} | {p.LastStep} | {100 * p.SolveRate:0.0}% | {p.MeanReturn:0.000} | ")) +
              (p.ValidSolveRate is { } vs ? I($"{100 * vs:0.0}%") : "") + " |");
        L();

        L("## Wall time");
        L();
        L("| phase | minutes |");
        L("|---|---|");
        foreach (var (phase, seconds) in phases.Seconds)
            L(I($"| {phase} | {seconds / 60:0.0} |"));
        L(I($"| **total** | **{phases.Total / 60:0.0}** |"));
        L();

        L("## Setup");
        L();
        MiniData d0 = settings.Data;
        L(I($"- Data: `rlef mini generate` problems, seed {d0.Seed}, difficulty {d0.Difficulty}, {d0.Train} train / {d0.Valid} valid / {d0.Test} test (the report uses {sr.ProblemCount} test problems)."));
        L($"- Policies evaluated: start = `{policies["start-real"]}`; trained = `{policies["trained-real"]}`.");
        string pretrain = Path.Combine(settings.ModelDirectory, "pretrain.json");
        if (File.Exists(pretrain))
            L($"- The starting checkpoint's own record (`pretrain.json`): `{Flatten(File.ReadAllText(pretrain))}`");
        L("- The evaluations use the machinery of `rlef eval` (EvaluationRun, EvaluationReport); each one's full report is `eval/<name>/report.md` in the run directory.");
        L();
        L("Reproduce:");
        L();
        L("    " + command);

        File.WriteAllText(reportPath, md.ToString());
        return new MiniReportResult(reportPath, evaluations, curve, targets, phases.Total, comparisons);
    }

    /// <summary>Per iteration: the rollout statistics (shared by its updates) and the validation written after it.</summary>
    public static IReadOnlyList<TrainingPoint> ReadCurve(string metricsPath, int updatesPerIteration)
    {
        var points = new SortedDictionary<long, TrainingPoint>();
        if (!File.Exists(metricsPath)) return [];
        foreach (string line in File.ReadLines(metricsPath))
        {
            if (line.Length == 0) continue;
            using var doc = JsonDocument.Parse(line);
            JsonElement e = doc.RootElement;
            long step = e.GetProperty("step").GetInt64();
            if (step == 0)
            {
                // The starting policy's validation (before any update): iteration 0, no rollouts.
                if (e.TryGetProperty(MetricNames.ValidSolveRate, out JsonElement start))
                    points[0] = new TrainingPoint(0, 0, double.NaN, double.NaN, start.GetDouble());
                continue;
            }
            long iteration = (step - 1) / updatesPerIteration + 1;
            if (e.TryGetProperty(MetricNames.SolveRate, out JsonElement solve) && !points.ContainsKey(iteration))
                points[iteration] = new TrainingPoint(iteration, step, solve.GetDouble(),
                    e.TryGetProperty(MetricNames.MeanReturn, out JsonElement ret) && ret.ValueKind == JsonValueKind.Number ? ret.GetDouble() : double.NaN, null);
            else if (points.TryGetValue(iteration, out TrainingPoint? p))
                points[iteration] = p with { LastStep = Math.Max(p.LastStep, step) };
            if (e.TryGetProperty(MetricNames.ValidSolveRate, out JsonElement valid) && points.TryGetValue(iteration, out TrainingPoint? q))
                points[iteration] = q with { ValidSolveRate = valid.GetDouble() };
        }
        return points.Values.ToList();
    }

    /// <summary>
    /// The report's paired comparisons of 1@3 (docs/protocol.md §4): start vs trained (multi- and single-turn), multi- vs
    /// single-turn (each policy), true vs random feedback (each policy); each under the paper's bootstrap over rollouts
    /// (falling back to problems where a side has one rollout per problem) and under the bootstrap over problems.
    /// </summary>
    public static IReadOnlyList<MiniComparison> Comparisons(IReadOnlyDictionary<string, IReadOnlyList<RolloutSummary>> rollouts, int turns)
    {
        var paper = new EvaluationOptions { TurnLimit = turns };
        var byProblems = paper with { Bootstrap = BootstrapMethod.Problems };
        ComparedSetting S(string eval, int limit, string label) => new(label, rollouts[eval], limit);
        MiniComparison C(string key, string label, ComparedSetting first, ComparedSetting second) =>
            new(key, label, PairedComparison.Compute("1@3", first, second, paper), PairedComparison.Compute("1@3", first, second, byProblems));
        return
        [
            C("trained-start-mt", "after RLEF − start, multi-turn", S("trained-real", turns, "after RLEF"), S("start-real", turns, "start")),
            C("trained-start-st", "after RLEF − start, single-turn", S("trained-real", 1, "after RLEF"), S("start-real", 1, "start")),
            C("trained-mt-st", "after RLEF: multi-turn − single-turn", S("trained-real", turns, "multi-turn"), S("trained-real", 1, "single-turn")),
            C("start-mt-st", "start: multi-turn − single-turn", S("start-real", turns, "multi-turn"), S("start-real", 1, "single-turn")),
            C("trained-true-random", "after RLEF: true − random feedback (multi-turn)", S("trained-real", turns, "true feedback"), S("trained-random", turns, "random feedback")),
            C("start-true-random", "start: true − random feedback (multi-turn)", S("start-real", turns, "true feedback"), S("start-random", turns, "random feedback")),
        ];
    }

    /// <summary>
    /// The interval a finding is judged by: the paper's bootstrap over rollouts, unless it does not apply (one rollout per
    /// problem on a side) or is biased (single-turn 1@3 draws all of a problem's rollouts); then the one over problems.
    /// </summary>
    public static PairedDifference Decisive(MiniComparison c) =>
        c.Paired.Method == BootstrapMethod.Rollouts && c.Paired.Note is null ? c.Paired : c.ByProblems;

    static string MethodName(PairedDifference d) => d.Method == BootstrapMethod.Rollouts ? "bootstrap over rollouts" : "bootstrap over problems";
    static string MeanText(Estimate e) => e.IsDefined ? I($"{e.Value:0.00} [{e.CiLow:0.00}, {e.CiHigh:0.00}]") : "n/a";

    static string Interval(Estimate e) => e.IsDefined ? I($"[{100 * e.CiLow:+0.0;-0.0;0.0}, {100 * e.CiHigh:+0.0;-0.0;0.0}]") : "n/a";
    static string YesNo(bool yes) => yes ? "**yes**" : "no";

    /// <summary>A path relative to the working directory when it lies below it (the report is read beside the repository).</summary>
    static string Shown(string path)
    {
        string relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative;
    }

    static string Percent(double share) => double.IsNaN(share) ? "-" : I($"{100 * share:0.0}%");
    static string Flatten(string json) => string.Join(" ", json.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).Replace("`", "'");
    static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
