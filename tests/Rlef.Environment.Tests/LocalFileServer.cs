using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Rlef.Environment.Tests;

/// <summary>
/// A folder served over HTTP on 127.0.0.1 and a free port (ASP.NET Core, Kestrel), with range requests, the way
/// Hugging Face or a mirror serves files. <see cref="CutAfterBytes"/> makes the first response for a file break off
/// after that many bytes (the connection is aborted), to test resumption; every request is logged.
/// </summary>
public sealed class LocalFileServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _served = new();

    public string Root { get; }
    public Uri BaseUrl { get; }
    public ConcurrentQueue<(string Path, string? Range, int Status)> Requests { get; } = new();
    public long? CutAfterBytes { get; set; }
    /// <summary>Answer range requests with the whole file (200), as servers without range support do.</summary>
    public bool IgnoreRanges { get; set; }

    private LocalFileServer(string root, WebApplication app, Uri baseUrl)
    {
        Root = root;
        _app = app;
        BaseUrl = baseUrl;
    }

    public static async Task<LocalFileServer> StartAsync(string root)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        LocalFileServer? server = null;
        app.MapGet("/{**path}", async (HttpContext context, string path) => await server!.ServeAsync(context, path));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new LocalFileServer(root, app, new Uri(address));
        return server;
    }

    private async Task ServeAsync(HttpContext context, string path)
    {
        string file = Path.GetFullPath(Path.Combine(Root, path));
        string? range = context.Request.Headers.Range.Count > 0 ? context.Request.Headers.Range.ToString() : null;
        if (!file.StartsWith(Path.GetFullPath(Root), StringComparison.Ordinal) || !File.Exists(file))
        {
            Requests.Enqueue((path, range, 404));
            context.Response.StatusCode = 404;
            return;
        }
        if (CutAfterBytes is long cut && _served.AddOrUpdate(path, 1, (_, n) => n + 1) == 1)
        {
            Requests.Enqueue((path, range, 200));
            byte[] bytes = await File.ReadAllBytesAsync(file);
            context.Response.ContentLength = bytes.Length;
            await context.Response.Body.WriteAsync(bytes.AsMemory(0, (int)Math.Min(cut, bytes.Length)));
            await context.Response.Body.FlushAsync();
            // Let the client read what was sent before the connection is reset (a reset can discard unread data).
            await Task.Delay(300);
            context.Abort();
            return;
        }
        long length = new FileInfo(file).Length;
        Requests.Enqueue((path, range, range is null || IgnoreRanges ? 200 : range == $"bytes={length}-" ? 416 : 206));
        await Results.File(file, "application/octet-stream", enableRangeProcessing: !IgnoreRanges).ExecuteAsync(context);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
