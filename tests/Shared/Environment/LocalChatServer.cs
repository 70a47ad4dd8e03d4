using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Rlef.Tests;

/// <summary>
/// A real OpenAI-compatible chat-completions server on 127.0.0.1 (HttpListener, ephemeral port) that answers from a
/// function of the request, so tests exercise the client over actual HTTP. <see cref="Status"/> lets a test make the
/// first answers fail (429/500) to see the retries.
/// </summary>
public sealed class LocalChatServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<JsonObject, string> _answer;
    private readonly Task _loop;
    private int _requests;

    public Uri BaseUrl { get; }
    public List<JsonObject> Requests { get; } = [];
    public List<string?> AuthorizationHeaders { get; } = [];
    /// <summary>Status code for request number i (0-based); null or 200 = answer normally.</summary>
    public Func<int, int?> Status { get; set; } = _ => null;

    public LocalChatServer(Func<JsonObject, string> answer)
    {
        _answer = answer;
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try { _listener.Start(); BaseUrl = new Uri($"http://127.0.0.1:{port}/v1"); break; }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _loop = Task.Run(LoopAsync);
    }

    public int RequestCount => Volatile.Read(ref _requests);

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            _ = Task.Run(() => Handle(context));
        }
    }

    private void Handle(HttpListenerContext context)
    {
        int index = Interlocked.Increment(ref _requests) - 1;
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        var body = (JsonObject)JsonNode.Parse(reader.ReadToEnd())!;
        lock (Requests)
        {
            Requests.Add(body);
            AuthorizationHeaders.Add(context.Request.Headers["Authorization"]);
        }
        int status = context.Request.Url!.AbsolutePath == "/v1/chat/completions" ? Status(index) ?? 200 : 404;
        string text = status == 200
            ? new JsonObject
            {
                ["id"] = $"chatcmpl-{index}",
                ["object"] = "chat.completion",
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = _answer(body) },
                    ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = 10, ["completion_tokens"] = 7, ["total_tokens"] = 17 },
            }.ToJsonString()
            : $"{{\"error\": {{\"message\": \"status {status}\"}}}}";
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        if (status == 429)
            context.Response.Headers["Retry-After"] = "0";
        context.Response.OutputStream.Write(bytes);
        context.Response.Close();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
