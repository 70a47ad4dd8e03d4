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
    /// <summary>Retries after the first attempt on 429, 5xx, connection errors and timeouts.</summary>
    public int MaxRetries { get; init; } = 5;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Per-attempt limit.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>
    /// Send the assistant prefix as a final assistant message to be continued (`continue_final_message`, a vLLM
    /// extension; llama.cpp continues a final assistant message too). Off: the model writes the whole reply.
    /// </summary>
    public bool Prefill { get; init; } = true;
    public int? Seed { get; init; }
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

    public OpenAiChatPolicy(OpenAiOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // per attempt, below
        _slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrency));
        _endpoint = new Uri(options.BaseUrl.ToString().TrimEnd('/') + "/chat/completions");
        string? key = System.Environment.GetEnvironmentVariable(options.ApiKeyVariable);
        if (!string.IsNullOrEmpty(key))
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

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

    public string Describe() => $"openai:{_options.BaseUrl}#{_options.Model}";

    public async Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken)
    {
        string body = RequestBody(conversation);
        await _slots.WaitAsync(cancellationToken);
        try
        {
            for (int attempt = 0; ; attempt++)
            {
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
                    if (response.IsSuccessStatusCode)
                        return ParseReply(text, conversation);
                    failure = $"HTTP {(int)response.StatusCode}: {Truncate(text)}";
                    if (!IsRetryable(response.StatusCode))
                        throw new HttpRequestException($"{_endpoint}: {failure}", null, response.StatusCode);
                    retryAfter = response.Headers.RetryAfter?.Delta;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = $"no answer within {_options.RequestTimeout.TotalSeconds:0} s";
                }
                catch (HttpRequestException e) when (e.StatusCode is null)
                {
                    failure = e.Message; // connection refused/reset
                }
                if (attempt >= _options.MaxRetries)
                    throw new HttpRequestException($"{_endpoint}: giving up after {attempt + 1} attempts; last: {failure}");
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

    private string RequestBody(Conversation conversation)
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
            ["temperature"] = _options.Temperature,
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

    private PolicyReply ParseReply(string json, Conversation conversation)
    {
        try
        {
            var root = JsonNode.Parse(json) ?? throw new JsonException("empty body");
            var choice = root["choices"]?[0] ?? throw new JsonException("no choices[0]");
            string content = choice["message"]?["content"]?.GetValue<string>() ?? "";
            int? tokens = root["usage"]?["completion_tokens"]?.GetValue<int>();
            bool prefilled = _options.Prefill && conversation.AssistantPrefix is not null;
            return new PolicyReply(prefilled ? conversation.AssistantPrefix + content : content, tokens);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{_endpoint}: unexpected response ({e.Message}): {Truncate(json)}", e);
        }
    }

    private static string Truncate(string s) => s.Length <= 500 ? s : s[..500] + "...";

    public void Dispose()
    {
        _http.Dispose();
        _slots.Dispose();
    }
}
