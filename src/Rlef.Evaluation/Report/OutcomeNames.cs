namespace Rlef.Evaluation;

/// <summary>Stable names of the outcome classes for JSON keys and report labels.</summary>
public static class OutcomeNames
{
    public static string Key(TurnOutcome outcome) => outcome switch
    {
        TurnOutcome.Passed => "passed",
        TurnOutcome.WrongOutput => "wrong_output",
        TurnOutcome.Exception => "exception",
        TurnOutcome.Timeout => "timeout",
        TurnOutcome.OutOfMemory => "out_of_memory",
        TurnOutcome.InvalidCode => "invalid_code",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "unknown outcome"),
    };

    public static string Label(TurnOutcome outcome) => outcome switch
    {
        TurnOutcome.Passed => "passed public tests",
        TurnOutcome.WrongOutput => "wrong output",
        TurnOutcome.Exception => "exception",
        TurnOutcome.Timeout => "timeout",
        TurnOutcome.OutOfMemory => "out of memory",
        TurnOutcome.InvalidCode => "invalid code",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "unknown outcome"),
    };

    /// <summary>Chart colour of each class (colour-blind-friendly Okabe–Ito palette).</summary>
    public static string Colour(TurnOutcome outcome) => outcome switch
    {
        TurnOutcome.Passed => "#009E73",
        TurnOutcome.WrongOutput => "#E69F00",
        TurnOutcome.Exception => "#D55E00",
        TurnOutcome.Timeout => "#0072B2",
        TurnOutcome.OutOfMemory => "#CC79A7",
        TurnOutcome.InvalidCode => "#7F7F7F",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "unknown outcome"),
    };
}
