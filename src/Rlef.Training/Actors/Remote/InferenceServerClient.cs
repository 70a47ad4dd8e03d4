using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Training.Actors.Remote;

/// <summary>An inference server refused a request, answered something unreadable, or could not be reached.</summary>
public sealed class InferenceServerException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Timeouts and retries of every call to an inference server.</summary>
public sealed record ServerCallOptions
{
    /// <summary>Per-attempt limit (a long reply of a large model can take minutes).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Retries after the first attempt, on connection errors, timeouts, 429 and 5xx.</summary>
    public int MaxRetries { get; init; } = 4;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Sent as "Authorization: Bearer …" when set.</summary>
    public string? BearerToken { get; init; }
}

/// <summary>
/// JSON over HTTP to one inference server, with a per-attempt timeout and retries with exponential backoff (and the
/// server's Retry-After) on connection errors, timeouts, 429 and 5xx. A 4xx is final. Every failure names the URL,
/// the status and the start of the body, so a run's log says which server refused what.
/// </summary>
public sealed class InferenceServerClient : IDisposable
{
    readonly HttpClient _http;
    readonly ServerCallOptions _options;

    public InferenceServerClient(Uri baseUrl, ServerCallOptions? options = null, HttpMessageHandler? handler = null)
    {
        BaseUrl = new Uri(baseUrl.ToString().TrimEnd('/') + "/");
        _options = options ?? new ServerCallOptions();
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // per attempt, below
        if (!string.IsNullOrEmpty(_options.BearerToken))
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _options.BearerToken);
    }

    public Uri BaseUrl { get; }

    /// <summary>POSTs <paramref name="body"/> to BASE/<paramref name="path"/> and parses the JSON answer.</summary>
    public Task<JsonNode> PostAsync(string path, JsonNode body, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, body.ToJsonString(), cancellationToken);

    public Task<JsonNode> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Get, path, null, cancellationToken);

    async Task<JsonNode> SendAsync(HttpMethod method, string path, string? body, CancellationToken cancellationToken)
    {
        var url = new Uri(BaseUrl, path.TrimStart('/'));
        for (int attempt = 0; ; attempt++)
        {
            string failure;
            TimeSpan? retryAfter = null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                using var request = new HttpRequestMessage(method, url);
                if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await _http.SendAsync(request, timeout.Token);
                string text = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.IsSuccessStatusCode) return Parse(url, text);
                failure = $"HTTP {(int)response.StatusCode}: {Truncate(text)}";
                if (!HttpRetry.IsRetryable(response.StatusCode))
                    throw new InferenceServerException($"{method} {url} refused: {failure}");
                retryAfter = response.Headers.RetryAfter?.Delta;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failure = $"no answer within {_options.RequestTimeout.TotalSeconds:0} s";
            }
            catch (HttpRequestException e)
            {
                failure = $"connection failed: {e.Message}";
            }
            if (attempt >= _options.MaxRetries)
                throw new InferenceServerException($"{method} {url}: giving up after {attempt + 1} attempts; last: {failure}");
            await Task.Delay(retryAfter ?? HttpRetry.Backoff(attempt, _options.InitialBackoff, _options.MaxBackoff), cancellationToken);
        }
    }

    static JsonNode Parse(Uri url, string text)
    {
        try
        {
            return JsonNode.Parse(text) ?? throw new JsonException("the body is JSON null");
        }
        catch (JsonException e)
        {
            throw new InferenceServerException($"{url} answered malformed JSON ({e.Message}): {Truncate(text)}", e);
        }
    }

    internal static string Truncate(string s) => s.Length <= 400 ? s : s[..400] + "…";

    public void Dispose() => _http.Dispose();
}
