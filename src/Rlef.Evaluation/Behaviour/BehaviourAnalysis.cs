using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation.Behaviour;

/// <summary>Rollouts that reached turn <see cref="Turn"/>, by public-test outcome of that turn.</summary>
public sealed record OutcomeDistribution(int Turn, int Rollouts, IReadOnlyDictionary<TurnOutcome, int> Counts)
{
    public double Share(TurnOutcome outcome) => Rollouts == 0 ? double.NaN : (double)Counts.GetValueOrDefault(outcome) / Rollouts;
}

/// <summary>Rollouts whose turn <see cref="FromTurn"/> ended in <see cref="From"/> and whose next turn ended in <see cref="To"/>.</summary>
public sealed record Transition(int FromTurn, TurnOutcome From, TurnOutcome To, int Count);

/// <summary>
/// Of the rollouts in class <see cref="From"/> at turn <see cref="Turn"/> (null: at any turn before the last, each
/// such turn counted once), the share whose final submission passes all tests.
/// </summary>
public sealed record RecoveryRate(int? Turn, TurnOutcome From, int Rollouts, Estimate Rate);

/// <summary>
/// Mean code change 1 − chrF(code of turn t+1 against code of turn t) over transitions out of class <see cref="From"/>
/// (into <see cref="To"/>, or into any class when null). Transitions where either turn has no code are left out.
/// </summary>
public sealed record CodeChange(TurnOutcome From, TurnOutcome? To, int Transitions, Estimate Mean);

/// <summary>
/// What follows a failing turn (any outcome but a public pass) that has a next turn: the repair rate, the share of
/// such turns whose next turn passes the public tests, over <see cref="Transitions"/>; and the mean code change
/// 1 − chrF into the next turn, over <see cref="CodeTransitions"/> (those where both turns have code).
/// </summary>
public sealed record AfterFailure(int Transitions, Estimate RepairRate, int CodeTransitions, Estimate CodeChange);

/// <summary>How the policy behaves across turns (docs/protocol.md §4 "behaviour analysis").</summary>
public sealed record BehaviourAnalysis(
    IReadOnlyList<OutcomeDistribution> OutcomesByTurn,
    IReadOnlyList<Transition> Transitions,
    IReadOnlyList<RecoveryRate> Recovery,
    IReadOnlyList<CodeChange> CodeChanges,
    AfterFailure AfterFailure)
{
    /// <summary>Outcome classes in display order.</summary>
    public static IReadOnlyList<TurnOutcome> Classes { get; } = Enum.GetValues<TurnOutcome>();

    internal static BehaviourAnalysis Compute(IReadOnlyList<IReadOnlyList<RolloutSummary>> problems, int turnLimit, Bootstrap bootstrap)
    {
        int problemCount = problems.Count;
        var outcomeCounts = new int[turnLimit, Classes.Count];
        var reached = new int[turnLimit];
        var transitions = new int[turnLimit, Classes.Count, Classes.Count];

        // Per-rollout sums ([problem][rollout]) for the ratio bootstrap, keyed by (turn or 0 for "any", class) and
        // (from, to or -1 for "any").
        var recoveryNumerators = new Dictionary<(int Turn, TurnOutcome From), double[][]>();
        var recoveryDenominators = new Dictionary<(int Turn, TurnOutcome From), double[][]>();
        var changeSums = new Dictionary<(TurnOutcome From, int To), double[][]>();
        var changeCounts = new Dictionary<(TurnOutcome From, int To), double[][]>();
        // After any failing turn that has a next turn, pooled over the failing classes: the same per-rollout sums.
        double[][] PerRollout() => problems.Select(p => new double[p.Count]).ToArray();
        double[][] repairs = PerRollout(), failures = PerRollout(), failureChangeSums = PerRollout(), failureChangeCounts = PerRollout();
        void Add<TKey>(Dictionary<TKey, double[][]> sums, TKey key, int problem, int rollout, double value) where TKey : notnull
        {
            if (!sums.TryGetValue(key, out double[][]? perRollout))
                sums[key] = perRollout = problems.Select(p => new double[p.Count]).ToArray();
            perRollout[problem][rollout] += value;
        }

        // chrF dominates the analysis' cost (~0.1 ms per kilobyte of code): compute every change in parallel first,
        // each into its own slot, so that the sums below run in a fixed order and stay deterministic.
        List<RolloutSummary> all = problems.SelectMany(p => p).ToList();
        var changes = new double[all.Count][];
        Parallel.For(0, all.Count, r =>
        {
            IReadOnlyList<TurnSummary> turns = all[r].Turns;
            changes[r] = new double[Math.Max(0, turns.Count - 1)];
            for (int t = 0; t + 1 < turns.Count; t++)
                changes[r][t] = HasCode(turns[t]) && HasCode(turns[t + 1]) ? ChrF.Change(turns[t].Code, turns[t + 1].Code) : double.NaN;
        });

        int rolloutIndex = 0;
        for (int p = 0; p < problemCount; p++)
        {
            for (int r = 0; r < problems[p].Count; r++)
            {
                RolloutSummary rollout = problems[p][r];
                double[] rolloutChanges = changes[rolloutIndex++];
                IReadOnlyList<TurnSummary> turns = rollout.Turns;
                for (int t = 0; t < turns.Count; t++)
                {
                    TurnOutcome outcome = turns[t].PublicOutcome;
                    reached[t]++;
                    outcomeCounts[t, (int)outcome]++;
                    if (t + 1 >= turns.Count)
                        continue;

                    TurnOutcome next = turns[t + 1].PublicOutcome;
                    transitions[t, (int)outcome, (int)next]++;
                    double recovered = rollout.FinalPassesAll ? 1 : 0;
                    foreach (int turnKey in (int[])[t + 1, 0])
                    {
                        Add(recoveryNumerators, (turnKey, outcome), p, r, recovered);
                        Add(recoveryDenominators, (turnKey, outcome), p, r, 1);
                    }

                    double change = rolloutChanges[t];
                    if (outcome != TurnOutcome.Passed)
                    {
                        repairs[p][r] += next == TurnOutcome.Passed ? 1 : 0;
                        failures[p][r] += 1;
                        if (!double.IsNaN(change))
                        {
                            failureChangeSums[p][r] += change;
                            failureChangeCounts[p][r] += 1;
                        }
                    }
                    if (!double.IsNaN(change))
                    {
                        foreach (int toKey in (int[])[(int)next, -1])
                        {
                            Add(changeSums, (outcome, toKey), p, r, change);
                            Add(changeCounts, (outcome, toKey), p, r, 1);
                        }
                    }
                }
            }
        }

        var outcomesByTurn = new List<OutcomeDistribution>();
        var transitionList = new List<Transition>();
        for (int t = 0; t < turnLimit; t++)
        {
            var counts = new Dictionary<TurnOutcome, int>();
            foreach (TurnOutcome c in Classes)
                counts[c] = outcomeCounts[t, (int)c];
            outcomesByTurn.Add(new OutcomeDistribution(t + 1, reached[t], counts));
            foreach (TurnOutcome from in Classes)
                foreach (TurnOutcome to in Classes)
                    if (transitions[t, (int)from, (int)to] > 0)
                        transitionList.Add(new Transition(t + 1, from, to, transitions[t, (int)from, (int)to]));
        }

        var recovery = recoveryDenominators.Keys
            .OrderBy(key => key.Turn == 0 ? int.MaxValue : key.Turn).ThenBy(key => key.From)
            .Select(key => new RecoveryRate(key.Turn == 0 ? null : key.Turn, key.From,
                (int)recoveryDenominators[key].Sum(p => p.Sum()),
                bootstrap.Estimate(Statistic.PooledRatio(recoveryNumerators[key], recoveryDenominators[key]))))
            .ToList();

        var codeChanges = changeCounts.Keys
            .OrderBy(key => key.From).ThenBy(key => key.To == -1 ? int.MinValue : key.To)
            .Select(key => new CodeChange(key.From, key.To == -1 ? null : (TurnOutcome)key.To,
                (int)changeCounts[key].Sum(p => p.Sum()),
                bootstrap.Estimate(Statistic.PooledRatio(changeSums[key], changeCounts[key]))))
            .ToList();

        int Total(double[][] counts) => (int)counts.Sum(p => p.Sum());
        Estimate Ratio(double[][] sums, double[][] counts) => Total(counts) > 0
            ? bootstrap.Estimate(Statistic.PooledRatio(sums, counts)) : new Estimate(double.NaN, double.NaN, double.NaN);
        var afterFailure = new AfterFailure(Total(failures), Ratio(repairs, failures),
            Total(failureChangeCounts), Ratio(failureChangeSums, failureChangeCounts));

        return new BehaviourAnalysis(outcomesByTurn, transitionList, recovery, codeChanges, afterFailure);
    }

    // Invalid replies carry no code (""); a change against nothing would measure the extraction, not the policy.
    private static bool HasCode(TurnSummary turn) => !string.IsNullOrWhiteSpace(turn.Code);
}
