using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rlef.Tests.Faults;

/// <summary>The ways <see cref="FaultyChatServer"/> can answer one request.</summary>
public enum Fault
{
    /// <summary>A well-formed chat completion.</summary>
    None,
    /// <summary>The given status with an OpenAI-style error body.</summary>
    Status,
    /// <summary>200 in the legacy completions shape: choices[0].text, no message.</summary>
    LegacyText,
    /// <summary>200 with choices[0].message.content = null.</summary>
    NullContent,
    /// <summary>200 with content null and a refusal (a legal reply in the schema: the model declined).</summary>
    Refusal,
    /// <summary>200 with "choices": [].</summary>
    EmptyChoices,
    /// <summary>200 with an HTML page (a proxy's error page).</summary>
    Html,
    /// <summary>200 whose JSON body is cut in the middle.</summary>
    TruncatedJson,
    /// <summary>200 with a JSON object of another shape.</summary>
    WrongShape,
    /// <summary>401 whose body quotes the bearer token it received (as OpenAI's does).</summary>
    EchoKey,
    /// <summary>Never answers (until the client gives up or the server stops).</summary>
    Hang,
    /// <summary>Drops the connection without an answer.</summary>
    Abort,
}

/// <summary>What to do with a request: the fault, its status for <see cref="Fault.Status"/>, and the content of a good reply.</summary>
public sealed record FaultAction(Fault Fault, int Status = 200, string Content = "")
{
    public static FaultAction Reply(string content) => new(Fault.None, 200, content);
}

/// <summary>
/// A misbehaving OpenAI-compatible chat-completions server for fault-injection tests: ASP.NET Core on 127.0.0.1 and a
/// free port, answering each POST /v1/chat/completions as a function of the request (its index and body) decides.
/// Bounded: request bodies are capped, at most <see cref="MaxRequests"/> are served (later ones get 503), hanging
/// requests end when the client leaves or the server stops, and <see cref="DisposeAsync"/> stops it.
/// </summary>
public sealed class FaultyChatServer : IAsyncDisposable
{
    public const int MaxRequests = 10_000;
    private const long MaxBodyBytes = 16 << 20;

    private readonly WebApplication _app;
    private readonly Func<int, JsonObject, FaultAction> _decide;
    private readonly CancellationTokenSource _stopping = new();
    private int _requests;

    public Uri BaseUrl { get; }
    public int RequestCount => Volatile.Read(ref _requests);
    /// <summary>Authorization headers as received (to check what the client sent).</summary>
    public List<string?> AuthorizationHeaders { get; } = [];

    private FaultyChatServer(WebApplication app, Func<int, JsonObject, FaultAction> decide, Uri baseUrl)
    {
        _app = app;
        _decide = decide;
        BaseUrl = baseUrl;
    }

    public static async Task<FaultyChatServer> StartAsync(Func<int, JsonObject, FaultAction> decide)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Limits.MaxRequestBodySize = MaxBodyBytes;
        });
        var app = builder.Build();
        FaultyChatServer? server = null;
        app.MapPost("/v1/chat/completions", (HttpContext context) => server!.HandleAsync(context));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FaultyChatServer(app, decide, new Uri(address.TrimEnd('/') + "/v1"));
        return server;
    }

    /// <summary>A loopback URL on a free port where nothing listens (a dead endpoint).</summary>
    public static Uri DeadEndpoint()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/v1");
    }

    private async Task HandleAsync(HttpContext context)
    {
        int index = Interlocked.Increment(ref _requests) - 1;
        lock (AuthorizationHeaders)
            AuthorizationHeaders.Add(context.Request.Headers.Authorization.FirstOrDefault());
        if (index >= MaxRequests)
        {
            await Write(context, 503, "{\"error\": {\"message\": \"test server request budget spent\"}}");
            return;
        }
        JsonObject body;
        using (var reader = new StreamReader(context.Request.Body, Encoding.UTF8))
            body = JsonNode.Parse(await reader.ReadToEndAsync()) as JsonObject ?? [];
        FaultAction action = _decide(index, body);
        string model = body["model"]?.GetValue<string>() ?? "model";
        switch (action.Fault)
        {
            case Fault.None:
                await Write(context, 200, Completion(index, model, new JsonObject { ["role"] = "assistant", ["content"] = action.Content }));
                break;
            case Fault.Status:
                await Write(context, action.Status, $"{{\"error\": {{\"message\": \"injected status {action.Status}\", \"type\": \"server_error\"}}}}");
                break;
            case Fault.LegacyText:
                await Write(context, 200, new JsonObject
                {
                    ["id"] = $"cmpl-{index}", ["object"] = "text_completion", ["model"] = model,
                    ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["text"] = action.Content, ["finish_reason"] = "stop" }),
                }.ToJsonString());
                break;
            case Fault.NullContent:
                await Write(context, 200, Completion(index, model, new JsonObject { ["role"] = "assistant", ["content"] = null }));
                break;
            case Fault.Refusal:
                await Write(context, 200, Completion(index, model, new JsonObject { ["role"] = "assistant", ["content"] = null, ["refusal"] = action.Content }));
                break;
            case Fault.EmptyChoices:
                await Write(context, 200, $"{{\"id\": \"chatcmpl-{index}\", \"object\": \"chat.completion\", \"choices\": []}}");
                break;
            case Fault.Html:
                await Write(context, 200, "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>", "text/html");
                break;
            case Fault.TruncatedJson:
                string whole = Completion(index, model, new JsonObject { ["role"] = "assistant", ["content"] = action.Content });
                await Write(context, 200, whole[..(whole.Length / 2)]);
                break;
            case Fault.WrongShape:
                await Write(context, 200, "{\"result\": {\"generated_text\": \"print(1)\"}}");
                break;
            case Fault.EchoKey:
                string key = context.Request.Headers.Authorization.FirstOrDefault()?.Replace("Bearer ", "") ?? "";
                await Write(context, 401, $"{{\"error\": {{\"message\": \"Incorrect API key provided: {key}. You can find your API key at ...\", \"type\": \"invalid_request_error\", \"code\": \"invalid_api_key\"}}}}");
                break;
            case Fault.Hang:
                using (var both = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token))
                    try { await Task.Delay(TimeSpan.FromMinutes(2), both.Token); } catch (OperationCanceledException) { }
                context.Abort();
                break;
            case Fault.Abort:
                context.Abort();
                break;
        }
    }

    private static string Completion(int index, string model, JsonObject message) => new JsonObject
    {
        ["id"] = $"chatcmpl-{index}",
        ["object"] = "chat.completion",
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = "stop" }),
        ["usage"] = new JsonObject { ["prompt_tokens"] = 10, ["completion_tokens"] = 7, ["total_tokens"] = 17 },
    }.ToJsonString();

    private static async Task Write(HttpContext context, int status, string body, string contentType = "application/json")
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        if (status is 429 or 503)
            context.Response.Headers.RetryAfter = "0";
        await context.Response.WriteAsync(body);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
