using System.Text;
using Rlef.Environment.Policies;
using Rlef.Sandbox;

namespace Rlef.Environment.Rollouts;

/// <summary>
/// The public-test outcome class of a turn (docs/protocol.md §4 behaviour analysis), plus invalid code. Runtime and syntax
/// errors count as exceptions; an output limit as a wrong output.
/// </summary>
public enum TurnOutcome
{
    Passed,
    WrongOutput,
    Exception,
    Timeout,
    OutOfMemory,
    InvalidCode,
}

/// <summary>One test's result as persisted: the verdict, its time, and for failures a short message.</summary>
public sealed record TestRecord(string Verdict, double TimeMs, string? Message = null);

/// <summary>One turn: the prompt it answered, the reply, the extracted code and what the public tests said.</summary>
public sealed record TurnRecord
{
    public required int Index { get; init; }
    /// <summary>The user message this turn answers (initial prompt or feedback).</summary>
    public required string Prompt { get; init; }
    public required string Reply { get; init; }
    /// <summary>Extracted code; null when the reply had none (invalid).</summary>
    public string? Code { get; init; }
    public required TurnOutcome PublicOutcome { get; init; }
    public IReadOnlyList<TestRecord> PublicResults { get; init; } = [];
    /// <summary>The environment's answer to this turn (null on the last turn).</summary>
    public string? Feedback { get; init; }
    /// <summary>Random-feedback ablation: the task whose incorrect program produced <see cref="Feedback"/>.</summary>
    public string? FeedbackFrom { get; init; }
    /// <summary>r_t of docs/protocol.md §2 (without the KL term): −0.2 for invalid non-final turns, ±1 on the final turn.</summary>
    public required double Reward { get; init; }
    public double PolicyMs { get; init; }
    public double SandboxMs { get; init; }
    /// <summary>The reply's sampling temperature when it was drawn per reply (the paper's SFT data, App. A.3); absent otherwise.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? Temperature { get; init; }
}

/// <summary>
/// One finished episode, persisted as one JSON line. (TaskId, RolloutIndex) is the resume key. Private-test
/// verdicts are a compact string, one letter per test (<see cref="VerdictLetters"/>), because evalplus problems have
/// hundreds of tests; the first few failures keep a message.
/// </summary>
public sealed record Rollout
{
    public required string TaskId { get; init; }
    public required int RolloutIndex { get; init; }
    public required string Dataset { get; init; }
    public required int TurnLimit { get; init; }
    public required string FeedbackMode { get; init; }
    public required IReadOnlyList<ChatMessage> Conversation { get; init; }
    public required IReadOnlyList<TurnRecord> Turns { get; init; }
    /// <summary>The submission (last turn's code) passes every test: public, private and generated.</summary>
    public required bool PassedAll { get; init; }
    /// <summary>Verdict letters of the submission on the private tests; empty when they were not run (a public test failed).</summary>
    public string PrivateVerdicts { get; init; } = "";
    public IReadOnlyList<TestRecord> PrivateFailures { get; init; } = [];
    public required double TotalReward { get; init; }
    public double PolicyMs { get; init; }
    public double SandboxMs { get; init; }
    public double WallMs { get; init; }
    public DateTimeOffset FinishedAt { get; init; }
}

public static class VerdictLetters
{
    public static char ToLetter(this Verdict v) => v switch
    {
        Verdict.Passed => 'P',
        Verdict.WrongAnswer => 'W',
        Verdict.RuntimeError => 'R',
        Verdict.SyntaxError => 'S',
        Verdict.Timeout => 'T',
        Verdict.MemoryLimit => 'M',
        Verdict.OutputLimit => 'O',
        Verdict.InfraError => 'I',
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    public static string Encode(IEnumerable<TestResult> results)
    {
        var sb = new StringBuilder();
        foreach (var r in results)
            sb.Append(r.Verdict.ToLetter());
        return sb.ToString();
    }
}
