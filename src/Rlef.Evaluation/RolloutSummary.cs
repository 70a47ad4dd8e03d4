using Rlef.Environment.Rollouts;

namespace Rlef.Evaluation;

// The evaluation metrics' input: what one finished rollout says about each turn. Metrics never look at
// conversations, tokens or timings. The outcome classes are the environment's TurnOutcome (docs/protocol.md §4 behaviour
// classes plus invalid code).

/// <summary>One turn of a rollout: its public-test outcome and the code it submitted ("" when invalid).</summary>
public sealed record TurnSummary(TurnOutcome PublicOutcome, string Code);

/// <summary>
/// One rollout of up to T turns. <see cref="FinalPassesAll"/> is the judgement of the last turn's code on all tests
/// (public + private + generated). Earlier turns cannot pass all tests: the episode would have stopped there.
/// </summary>
public sealed record RolloutSummary(string ProblemId, IReadOnlyList<TurnSummary> Turns, bool FinalPassesAll)
{
    /// <summary>The metrics' view of an environment rollout.</summary>
    public static RolloutSummary From(Rollout rollout) => new(
        rollout.TaskId,
        rollout.Turns.Select(t => new TurnSummary(t.PublicOutcome, t.Code ?? "")).ToList(),
        rollout.PassedAll);
}
