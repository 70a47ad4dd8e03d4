using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Training.Learner;

/// <summary>A training service refused a call, failed it, answered something unreadable, or went away.</summary>
public sealed class TrainingServiceException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Timeouts and retries of calls to a training service.</summary>
public sealed record TinkerCallOptions
{
    /// <summary>Per-attempt limit of one HTTP call (retrieve_future long-polls within it).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(90);
    /// <summary>Retries after the first attempt of a call, on connection errors, timeouts, 429 and 5xx.</summary>
    public int MaxRetries { get; init; } = 5;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long one future may take before the run stops (a step of a large model can take minutes).</summary>
    public TimeSpan FutureTimeout { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>Sent as X-API-Key (what the Tinker SDK sends) and as Authorization: Bearer.</summary>
    public string? ApiKey { get; init; }
}

/// <summary>
/// JSON over HTTP to a Tinker-compatible training service (docs/tinker.md): a call is submitted with an
/// X-Idempotency-Key that stays the same across its retries, so a call whose answer was lost (timeout, 5xx,
/// dropped connection) is never applied twice; its future is then retrieved with retrieve_future, retrying 408
/// (still running) and 5xx until <see cref="TinkerCallOptions.FutureTimeout"/>. A service that cannot be reached
/// after the retries stops the run with a <see cref="TrainingServiceException"/> naming the URL and the call.
/// </summary>
public sealed class TinkerClient : IDisposable
{
    readonly HttpClient _http;
    readonly TinkerCallOptions _options;

    public TinkerClient(Uri baseUrl, TinkerCallOptions? options = null)
    {
        BaseUrl = new Uri(baseUrl.ToString().TrimEnd('/') + "/");
        _options = options ?? new TinkerCallOptions();
        _http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(_options.ApiKey))
        {
            _http.DefaultRequestHeaders.Add("X-API-Key", _options.ApiKey);
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _options.ApiKey);
        }
    }

    public Uri BaseUrl { get; }

    /// <summary>Submits a call that answers a future; returns its request id. The idempotency key is fixed for all retries.</summary>
    public async Task<string> SubmitAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        string key = Guid.NewGuid().ToString("N");
        JsonNode answer = await SendAsync(HttpMethod.Post, path, body.ToJsonString(), key, cancellationToken);
        return answer["request_id"]?.ToString() ?? throw new TrainingServiceException($"{BaseUrl}{path} answered no request_id: {Truncate(answer.ToJsonString())}");
    }

    /// <summary>Waits for a future's result (retrieve_future, long-polled; 408 and 5xx are asked again).</summary>
    public async Task<JsonNode> RetrieveAsync(string requestId, string what, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var body = new JsonObject { ["request_id"] = requestId, ["allow_metadata_only"] = false }.ToJsonString();
        while (true)
        {
            var (status, text) = await RawAsync(HttpMethod.Post, "api/v1/retrieve_future", body, null, cancellationToken);
            if (status == HttpStatusCode.OK)
            {
                JsonNode result = Parse("api/v1/retrieve_future", text);
                if (result is JsonObject o && o["type"]?.ToString() == "try_again") { /* still queued */ }
                else if (result is JsonObject f && f["error"] is not null)
                    throw new TrainingServiceException($"{what} (request {requestId}) failed on {BaseUrl}: {f["error"]}");
                else return result;
            }
            else if (status == HttpStatusCode.NotFound)
                throw new TrainingServiceException($"{what}: {BaseUrl} does not know request {requestId} (the service restarted or expired it): {Truncate(text)}");
            else if ((int)status is >= 400 and < 500 && status != HttpStatusCode.RequestTimeout && status != HttpStatusCode.TooManyRequests)
                throw new TrainingServiceException($"{what} (request {requestId}) failed on {BaseUrl}: HTTP {(int)status}: {Truncate(text)}");
            if (clock.Elapsed > _options.FutureTimeout)
                throw new TrainingServiceException($"{what} (request {requestId}) did not finish on {BaseUrl} within {_options.FutureTimeout.TotalMinutes:0} min");
            if (status != HttpStatusCode.RequestTimeout) await Task.Delay(_options.InitialBackoff, cancellationToken);
        }
    }

    /// <summary>Submit, then retrieve.</summary>
    public async Task<JsonNode> CallAsync(string path, JsonObject body, CancellationToken cancellationToken) =>
        await RetrieveAsync(await SubmitAsync(path, body, cancellationToken), path, cancellationToken);

    /// <summary>A call answered directly (create_session, get_info, get_server_capabilities with GET).</summary>
    public Task<JsonNode> PostAsync(string path, JsonObject body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, body.ToJsonString(), Guid.NewGuid().ToString("N"), cancellationToken);

    public Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, null, null, cancellationToken);

    async Task<JsonNode> SendAsync(HttpMethod method, string path, string? body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            var (status, text) = await RawAsync(method, path, body, idempotencyKey, cancellationToken);
            if ((int)status is >= 200 and < 300) return Parse(path, text);
            string failure = status == 0 ? text : $"HTTP {(int)status}: {Truncate(text)}";
            bool retryable = status == 0 || HttpRetry.IsRetryable(status); // 0: no answer came
            if (!retryable) throw new TrainingServiceException($"{method} {BaseUrl}{path} refused: {failure}");
            if (attempt >= _options.MaxRetries)
                throw new TrainingServiceException($"{method} {BaseUrl}{path}: the training service is gone or failing; giving up after {attempt + 1} attempts; last: {failure}");
            await Task.Delay(HttpRetry.Backoff(attempt, _options.InitialBackoff, _options.MaxBackoff), cancellationToken);
        }
    }

    // One attempt: (status, body), or (0, reason) when no answer came.
    async Task<(HttpStatusCode Status, string Text)> RawAsync(HttpMethod method, string path, string? body, string? idempotencyKey, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(BaseUrl, path));
            if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            if (idempotencyKey is not null) request.Headers.Add("X-Idempotency-Key", idempotencyKey);
            using var response = await _http.SendAsync(request, timeout.Token);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(timeout.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (0, $"no answer within {_options.RequestTimeout.TotalSeconds:0} s");
        }
        catch (HttpRequestException e)
        {
            return (0, $"connection failed: {e.Message}");
        }
    }

    JsonNode Parse(string path, string text)
    {
        try
        {
            return JsonNode.Parse(text) ?? throw new JsonException("the body is JSON null");
        }
        catch (JsonException e)
        {
            throw new TrainingServiceException($"{BaseUrl}{path} answered malformed JSON ({e.Message}): {Truncate(text)}", e);
        }
    }

    static string Truncate(string s) => s.Length <= 400 ? s : s[..400] + "…";

    public static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);

    public void Dispose() => _http.Dispose();
}
