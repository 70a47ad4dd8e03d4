using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Rlef.Environment.Policies;

/// <summary>Settings of <see cref="OpenAiChatPolicy"/>. Decoding defaults follow docs/protocol.md §4 (1@3: temperature 0.2, top-p 0.95).</summary>
public sealed record OpenAiOptions
{
    /// <summary>The API base, e.g. http://127.0.0.1:8000/v1 (the client posts to BASE/chat/completions).</summary>
    public required Uri BaseUrl { get; init; }
    public required string Model { get; init; }
    /// <summary>Name of the environment variable holding the API key; unset or empty = no Authorization header.</summary>
    public string ApiKeyVariable { get; init; } = "OPENAI_API_KEY";
    public double Temperature { get; init; } = 0.2;
    public double TopP { get; init; } = 0.95;
    public int MaxTokens { get; init; } = 2048;
    /// <summary>Requests in flight at once, over all rollouts.</summary>
    public int MaxConcurrency { get; init; } = 8;
    /// <summary>Retries after the first attempt on 429, 5xx, connection errors, timeouts and replies outside the
    /// protocol (malformed 200s): infrastructure errors, never scored (docs/protocol.md §4).</summary>
    public int MaxRetries { get; init; } = 5;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Per-attempt limit: a hung server costs at most this times (retries + 1) per request, and its
    /// timeouts count towards <see cref="CircuitBreakerThreshold"/>.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Consecutive connection failures or timeouts, over all requests, after which the endpoint is taken for
    /// dead and every request fails at once (<see cref="CircuitBreaker"/>); 0 disables the breaker.</summary>
    public int CircuitBreakerThreshold { get; init; } = 10;
    /// <summary>
    /// Send the assistant prefix as a final assistant message to be continued (`continue_final_message`, a vLLM
    /// extension; llama.cpp continues a final assistant message too). Off: the model writes the whole reply.
    /// </summary>
    public bool Prefill { get; init; } = true;
    public int? Seed { get; init; }
    /// <summary>Draw each request's temperature from this range instead of <see cref="Temperature"/> (the paper's SFT
    /// data, App. A.3); the reply carries the value used.</summary>
    public TemperatureRange? TemperatureRange { get; init; }
}

/// <summary>
/// A policy served by any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, Ollama, OpenAI),
/// over HttpClient and System.Text.Json, with a concurrency limit and retries with exponential backoff.
/// </summary>
public sealed class OpenAiChatPolicy : IPolicy, IDisposable
{
    private readonly OpenAiOptions _options;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _slots;
    private readonly Uri _endpoint;
    private readonly CircuitBreaker _breaker;

    public OpenAiChatPolicy(OpenAiOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // per attempt, below
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrency));
        _endpoint = new Uri(options.BaseUrl.ToString().TrimEnd('/') + "/chat/completions");
        _breaker = new CircuitBreaker(options.CircuitBreakerThreshold);
        // Credentials in the URL (http://user:secret@host) are secrets too.
        foreach (string part in options.BaseUrl.UserInfo.Split(':'))
            Secrets.Register(Uri.UnescapeDataString(part));
        Secrets.Register(options.BaseUrl.UserInfo);
        string? key = System.Environment.GetEnvironmentVariable(options.ApiKeyVariable);
        if (!string.IsNullOrEmpty(key))
        {
            Secrets.Register(key);
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    /// <summary>The breaker shared by every request of this policy (all rollouts of a run).</summary>
    public CircuitBreaker Breaker => _breaker;

    /// <summary>Parses `URL#MODEL` (the part after `openai:` on the command line).</summary>
    public static (Uri BaseUrl, string Model) ParseTarget(string target)
    {
        int hash = target.LastIndexOf('#');
        if (hash <= 0 || hash == target.Length - 1)
            throw new FormatException($"expected openai:URL#MODEL, got 'openai:{target}'");
        if (!Uri.TryCreate(target[..hash], UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new FormatException($"'{target[..hash]}' is not an http(s) URL");
        return (url, target[(hash + 1)..]);
    }

    public string Describe() => Secrets.Mask($"openai:{_options.BaseUrl}#{_options.Model}");

    /// <summary>The model, not the address: a resumed run may point at the same model restarted elsewhere.</summary>
    public string Identity() => $"openai:{_options.Model}";

    public async Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
    {
        double? drawn = _options.TemperatureRange?.Draw(context);
        string body = RequestBody(conversation, drawn ?? _options.Temperature);
        await _slots.WaitAsync(cancellationToken);
        try
        {
            var history = new List<string>();
            for (int attempt = 0; ; attempt++)
            {
                _breaker.ThrowIfOpen();
                TimeSpan? retryAfter = null;
                string failure;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.RequestTimeout);
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, _endpoint)
                    {
                        Content = new StringContent(body, Encoding.UTF8, "application/json"),
                    };
                    using var response = await _http.SendAsync(request, timeout.Token);
                    string text = await response.Content.ReadAsStringAsync(timeout.Token);
                    _breaker.RecordAnswer();
                    int status = (int)response.StatusCode;
                    if (response.IsSuccessStatusCode)
                    {
                        if (TryParseReply(text, conversation, out var reply, out string problem))
                            return reply with { Temperature = drawn };
                        failure = $"HTTP {status}, not a chat completion ({problem}): {Truncate(text)}";
                    }
                    else
                    {
                        failure = $"HTTP {status}: {Truncate(text)}";
                        if (!IsRetryable(response.StatusCode))
                            throw new PolicyInfrastructureException($"{_endpoint}: {failure}");
                        retryAfter = response.Headers.RetryAfter?.Delta;
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = $"no answer within {_options.RequestTimeout.TotalSeconds:0} s";
                    _breaker.RecordUnreachable(_endpoint.ToString(), failure);
                }
                catch (Exception e) when (e is HttpRequestException { StatusCode: null } or IOException)
                {
                    failure = e.Message; // connection refused/reset, or a body cut off mid-read
                    _breaker.RecordUnreachable(_endpoint.ToString(), failure);
                }
                history.Add(failure);
                if (attempt >= _options.MaxRetries)
                    throw new PolicyInfrastructureException(
                        $"{_endpoint}: giving up after {attempt + 1} attempts; last: {failure}" +
                        (history.Count > 1 ? $" (earlier: {string.Join("; ", history.SkipLast(1).Select(h => Truncate(h, 80)))})" : ""));
                await Task.Delay(retryAfter ?? Backoff(attempt), cancellationToken);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    private static bool IsRetryable(HttpStatusCode status) =>
        status == HttpStatusCode.TooManyRequests || status == HttpStatusCode.RequestTimeout || (int)status >= 500;

    /// <summary>initial · 2^attempt, capped, with ±25% jitter so parallel workers do not retry in lockstep.</summary>
    private TimeSpan Backoff(int attempt)
    {
        double seconds = Math.Min(_options.MaxBackoff.TotalSeconds, _options.InitialBackoff.TotalSeconds * Math.Pow(2, attempt));
        return TimeSpan.FromSeconds(seconds * (0.75 + 0.5 * Random.Shared.NextDouble()));
    }

    private string RequestBody(Conversation conversation, double temperature)
    {
        var messages = new JsonArray();
        foreach (var m in conversation.Messages)
            messages.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        bool prefill = _options.Prefill && conversation.AssistantPrefix is not null;
        if (prefill)
            messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = conversation.AssistantPrefix });
        var body = new JsonObject
        {
            ["model"] = _options.Model,
            ["messages"] = messages,
            ["temperature"] = temperature,
            ["top_p"] = _options.TopP,
            ["max_tokens"] = _options.MaxTokens,
            ["n"] = 1,
        };
        if (_options.Seed is int seed)
            body["seed"] = seed;
        if (prefill)
        {
            body["continue_final_message"] = true;
            body["add_generation_prompt"] = false;
        }
        return body.ToJsonString();
    }

    /// <summary>
    /// A reply in the chat-completions response schema: `choices[0].message.content` a string. Anything else — the
    /// legacy completions shape (`choices[0].text`), null content, no choices, an `error` object, HTML, truncated
    /// JSON — is not a reply but an infrastructure error, so it is retried and never scored as an empty answer.
    /// </summary>
    private bool TryParseReply(string json, Conversation conversation, out PolicyReply reply, out string problem)
    {
        reply = null!;
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e)
        {
            problem = json.TrimStart().StartsWith('<') ? "HTML instead of JSON" : $"invalid JSON: {e.Message}";
            return false;
        }
        problem = Shape(root, out string? content, out int? tokens);
        if (content is null)
            return false;
        bool prefilled = _options.Prefill && conversation.AssistantPrefix is not null;
        reply = new PolicyReply(prefilled ? conversation.AssistantPrefix + content : content, tokens);
        return true;
    }

    /// <summary>What is wrong with the body's shape, or "" with <paramref name="content"/> set.</summary>
    private static string Shape(JsonNode? root, out string? content, out int? completionTokens)
    {
        content = null;
        completionTokens = null;
        if (root is not JsonObject body)
            return "the body is not a JSON object";
        if (body["error"] is JsonNode error)
            return $"an error object: {error.ToJsonString()}";
        if (body["choices"] is not JsonArray choices)
            return "no 'choices' array";
        if (choices.Count == 0)
            return "'choices' is empty";
        if (choices[0] is not JsonObject choice)
            return "choices[0] is not an object";
        if (choice["message"] is not JsonObject message)
            return choice["text"] is not null
                ? "choices[0] has the legacy completions shape ('text', no 'message'): the server answered as /v1/completions"
                : "choices[0] has no 'message' object";
        // The schema allows null content only beside tool calls (we send no tools) or a refusal; a refusal is the
        // model's own answer (it holds no code, so it is judged like any reply without code).
        if (message["content"] is null && message["refusal"] is JsonValue refusal && refusal.GetValueKind() == JsonValueKind.String)
        {
            content = refusal.GetValue<string>();
            return "";
        }
        if (message["content"] is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            return message["content"] is null ? "choices[0].message.content is null or missing" : "choices[0].message.content is not a string";
        if (body["usage"]?["completion_tokens"] is JsonValue t && t.GetValueKind() == JsonValueKind.Number && t.TryGetValue(out int n))
            completionTokens = n;
        content = value.GetValue<string>();
        return "";
    }

    private static string Truncate(string s, int length = 500) => s.Length <= length ? s : s[..length] + "...";

    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
    }
}
