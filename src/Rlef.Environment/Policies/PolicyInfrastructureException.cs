namespace Rlef.Environment.Policies;

/// <summary>
/// The policy could not give a reply that the protocol defines: its endpoint failed (connection, timeout, HTTP error)
/// or answered something that is not a well-formed reply (wrong shape, null content, no choices, HTML, truncated JSON).
/// Never a wrong answer: the episode is abandoned unscored and a rerun retries it (docs/protocol.md §4).
/// The message names the endpoint, the HTTP status and a truncated, secret-masked body.
/// </summary>
public class PolicyInfrastructureException(string message, Exception? inner = null) : Exception(Secrets.Mask(message), inner);

/// <summary>
/// The endpoint is considered down: <see cref="CircuitBreaker"/> saw too many consecutive connection failures or
/// timeouts across all rollouts. A run stops on it at once (what finished is kept, a rerun resumes).
/// </summary>
public sealed class EndpointUnavailableException(string message) : PolicyInfrastructureException(message);

/// <summary>
/// Shared by every request to one endpoint: after <see cref="Threshold"/> consecutive connection failures or timeouts
/// (counted over all rollouts, reset by any answer) it opens, and every later request fails at once with
/// <see cref="EndpointUnavailableException"/> instead of each rollout retrying a dead server on its own.
/// </summary>
public sealed class CircuitBreaker(int threshold)
{
    private int _consecutive;
    private volatile string? _openReason;

    public int Threshold { get; } = threshold;
    public bool IsOpen => _openReason is not null;

    /// <summary>Any answer from the server (even an error status) shows it is alive.</summary>
    public void RecordAnswer() => Interlocked.Exchange(ref _consecutive, 0);

    /// <summary>Records a connection failure or timeout; opens the breaker at the threshold.</summary>
    public void RecordUnreachable(string endpoint, string failure)
    {
        if (Interlocked.Increment(ref _consecutive) >= Threshold && Threshold > 0)
            _openReason ??= $"{endpoint} is unreachable: {Threshold} consecutive connection failures or timeouts (last: {failure}); " +
                            "the run stopped, finished rollouts are kept, rerun the same command when the server is back";
    }

    /// <summary>Throws when open.</summary>
    public void ThrowIfOpen()
    {
        if (_openReason is { } reason)
            throw new EndpointUnavailableException(reason);
    }
}
