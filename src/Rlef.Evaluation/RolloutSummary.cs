namespace Rlef.Evaluation;

// The evaluation metrics' input: what one finished rollout says about each turn. The environment maps its full
// rollout records onto these; metrics never look at conversations, tokens or timings.

/// <summary>Public-test outcome of one turn's code: the behaviour classes of RLEF.md §4, plus invalid code.</summary>
public enum TurnOutcome
{
    /// <summary>Every public test passed (the episode ends on this turn).</summary>
    Passed,
    WrongOutput,
    /// <summary>Runtime or syntax error on some public test.</summary>
    Exception,
    Timeout,
    OutOfMemory,
    /// <summary>No code could be extracted from the reply (RLEF.md §1 "invalid").</summary>
    InvalidCode,
}

/// <summary>One turn of a rollout: its public-test outcome and the code it submitted ("" when invalid).</summary>
public sealed record TurnSummary(TurnOutcome PublicOutcome, string Code);

/// <summary>
/// One rollout of up to T turns. <see cref="FinalPassesAll"/> is the judgement of the last turn's code on all tests
/// (public + private + generated). Earlier turns cannot pass all tests: the episode would have stopped there.
/// </summary>
public sealed record RolloutSummary(string ProblemId, IReadOnlyList<TurnSummary> Turns, bool FinalPassesAll);
