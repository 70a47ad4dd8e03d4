using System.Net;

namespace Rlef.Training;

/// <summary>
/// When and how long the clients of remote services (inference servers, a training service) wait before retrying
/// a call, so every client backs off the same way.
/// </summary>
internal static class HttpRetry
{
    /// <summary>429, 408 and 5xx may succeed later; any other 4xx is the caller's mistake and final.</summary>
    public static bool IsRetryable(HttpStatusCode status) =>
        status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;

    /// <summary>initial · 2^attempt, capped, with ±25% jitter so many clients do not retry in lockstep.</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max)
    {
        double seconds = Math.Min(max.TotalSeconds, initial.TotalSeconds * Math.Pow(2, attempt));
        return TimeSpan.FromSeconds(seconds * (0.75 + 0.5 * Random.Shared.NextDouble()));
    }
}
