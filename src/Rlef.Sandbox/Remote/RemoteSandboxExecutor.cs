using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Rlef.Sandbox;

/// <summary>Settings of <see cref="RemoteSandboxExecutor"/>.</summary>
public sealed record RemoteSandboxOptions
{
    /// <summary>Bearer token sent to every server (`rlef serve sandbox --token`); null = none.</summary>
    public string? Token { get; init; }

    /// <summary>Tries per request over all servers before giving up (the request then throws, nothing is scored).</summary>
    public int MaxAttempts { get; init; } = 8;

    /// <summary>Wait before the first retry; doubles per retry up to <see cref="MaxBackoff"/> (or the server's Retry-After).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time for one attempt beyond the tests' own time limits (queueing, transfer).</summary>
    public TimeSpan RequestOverhead { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>No sandbox server gave a usable answer after every retry. Nothing is scored from such a request.</summary>
public sealed class SandboxUnavailableException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

/// <summary>
/// Runs requests on remote sandbox servers (`rlef serve sandbox`) through `POST /run_tests`: the same interface as
/// the in-process <see cref="SandboxPool"/>. Requests are spread round-robin over the servers. Only what says
/// nothing about the program is retried, on the next server: connection failures, timeouts, 429 and 5xx answers,
/// and tests whose verdict is infra_error (the tests before them keep their verdicts, the rest are sent again).
/// A verdict is never retried into another. After <see cref="RemoteSandboxOptions.MaxAttempts"/> the request
/// throws <see cref="SandboxUnavailableException"/>; a 4xx other than 429 throws <see cref="ArgumentException"/>
/// (the request itself is wrong).
/// </summary>
public sealed class RemoteSandboxExecutor : ICodeExecutor
{
    private readonly Uri[] _servers;
    private readonly RemoteSandboxOptions _options;
    private readonly HttpClient _http;
    private int _next;
    private long _retries;

    public RemoteSandboxExecutor(IReadOnlyList<Uri> servers, RemoteSandboxOptions? options = null, HttpMessageHandler? handler = null)
    {
        if (servers.Count == 0)
            throw new ArgumentException("no sandbox server given");
        _servers = [.. servers.Select(s => s.AbsoluteUri.EndsWith('/') ? s : new Uri(s.AbsoluteUri + "/"))];
        _options = options ?? new RemoteSandboxOptions();
        if (_options.MaxAttempts < 1)
            throw new ArgumentException($"RemoteSandboxOptions.MaxAttempts must be at least 1 (got {_options.MaxAttempts})");
        _http = new HttpClient(handler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan,  // per attempt instead, from the request's own limits
        };
    }

    /// <summary>Parses `URL[,URL...]` (http or https); throws <see cref="FormatException"/> naming the bad one.</summary>
    public static IReadOnlyList<Uri> ParseServers(string list)
    {
        var servers = new List<Uri>();
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(part, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
                throw new FormatException($"sandbox server '{part}' is not an http(s) URL (e.g. http://127.0.0.1:8090)");
            servers.Add(uri);
        }
        if (servers.Count == 0)
            throw new FormatException("no sandbox server URL given");
        return servers;
    }

    public IReadOnlyList<Uri> Servers => _servers;

    /// <summary>Attempts repeated so far (all requests together): for progress lines and tests.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    public async Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
    {
        JobRunner.Validate(request);
        var results = new List<TestResult>(request.Tests.Count);
        TimeSpan attemptTimeout = TimeSpan.FromSeconds(request.Limits.WallTimeSeconds * Math.Max(1, request.Tests.Count)) + _options.RequestOverhead;
        TimeSpan backoff = _options.InitialBackoff;
        string? lastProblem = null;
        int server = (int)((uint)Interlocked.Increment(ref _next) % (uint)_servers.Length);
        for (int attempt = 0; attempt < _options.MaxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                Interlocked.Increment(ref _retries);
                server = (server + 1) % _servers.Length;
            }
            var remaining = results.Count == 0 ? request : request with { Tests = request.Tests.Skip(results.Count).ToList() };
            var (report, problem, retryAfter) = await TryOnceAsync(_servers[server], remaining, attemptTimeout, cancellationToken);
            if (report != null)
            {
                if (report.Results.Count > remaining.Tests.Count)
                    throw new SandboxUnavailableException($"sandbox {_servers[server]}: {report.Results.Count} results for {remaining.Tests.Count} tests");
                int infra = report.Results.ToList().FindIndex(r => r.Verdict == Verdict.InfraError);
                results.AddRange(infra < 0 ? report.Results : report.Results.Take(infra));
                if (infra < 0)
                    return new ExecutionReport(results);
                problem = $"infra_error on test {results.Count}: {report.Results[infra].Error}";
            }
            lastProblem = $"{_servers[server]}: {problem}";
            if (attempt + 1 < _options.MaxAttempts)
            {
                await Task.Delay(retryAfter is { } r && r > backoff ? Min(r, _options.MaxBackoff) : backoff, cancellationToken);
                backoff = Min(backoff * 2, _options.MaxBackoff);
            }
        }
        throw new SandboxUnavailableException($"no sandbox server answered after {_options.MaxAttempts} attempts; last: {lastProblem}");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>One attempt: the report, or why it is worth retrying (and the server's Retry-After if any).</summary>
    private async Task<(ExecutionReport? Report, string Problem, TimeSpan? RetryAfter)> TryOnceAsync(
        Uri server, ExecutionRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(timeout);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "run_tests"))
        {
            Content = new StringContent(RunTestsWire.WriteRequest(request).ToJsonString(), Encoding.UTF8, "application/json"),
        };
        if (_options.Token != null)
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.Token);
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, attempt.Token);
            string body = await response.Content.ReadAsStringAsync(attempt.Token);
            if (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
                return (null, $"HTTP {(int)response.StatusCode}: {Shorten(body)}", response.Headers.RetryAfter?.Delta);
            if (!response.IsSuccessStatusCode)
                throw new ArgumentException($"sandbox {server} refused the request: HTTP {(int)response.StatusCode}: {Shorten(body)}");
            try
            {
                return (RunTestsWire.ReadReport(JsonNode.Parse(body)), "", null);
            }
            catch (Exception e) when (e is WireFormatException or System.Text.Json.JsonException or FormatException)
            {
                return (null, $"unreadable reply ({e.Message})", null);  // e.g. cut off by a dying server or a proxy
            }
        }
        catch (HttpRequestException e)
        {
            return (null, $"connection failed ({e.Message})", null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {timeout.TotalSeconds:0} s", null);
        }
        catch (IOException e)
        {
            return (null, $"connection lost ({e.Message})", null);
        }
    }

    private static string Shorten(string s) => s.Length <= 300 ? s : s[..300] + "...";

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
