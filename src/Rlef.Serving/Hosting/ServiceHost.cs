using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Rlef.Serving.Hosting;

/// <summary>
/// Builds a service the way every service of the project is built: Kestrel on <see cref="ServerOptions.Listen"/>
/// with the body cap, then, for every request, error handling in the protocol's shape, HTTP metrics, the bearer
/// token check and the work gate of the endpoint; `GET /health` (503 once draining) and `GET /metrics`.
/// On SIGTERM / Ctrl+C the host stops accepting connections, gates refuse new work with 503, and in-flight requests
/// finish (up to <see cref="ServerOptions.ShutdownTimeout"/>).
/// <code>
/// var host = ServiceHost.Create(options);              // throws ArgumentException when the policy refuses
/// var gate = host.AddGate("jobs", concurrency: 2, queueCapacity: 64, TimeSpan.FromSeconds(30));
/// host.App.MapPost("/run", handler).RequireWorkGate(gate);
/// await host.RunAsync(Console.Out, ct);                // announces "NAME: listening on http://HOST:PORT"
/// </code>
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private readonly List<WorkGate> _gates = [];

    private ServiceHost(ServerOptions options, WebApplication app, MetricsRegistry metrics)
    {
        Options = options;
        App = app;
        Metrics = metrics;
    }

    public ServerOptions Options { get; }
    public WebApplication App { get; }
    public MetricsRegistry Metrics { get; }

    /// <summary>Extra fields for /health (e.g. workers ready); called on every probe.</summary>
    public Func<JsonObject>? HealthDetails { get; set; }

    /// <summary>The base URL actually bound (with the real port when port 0 was asked); set once started.</summary>
    public Uri? BaseAddress { get; private set; }

    public bool Draining { get; private set; }

    public static ServiceHost Create(ServerOptions options)
    {
        if (options.CheckSecurity() is string refusal)
            throw new ArgumentException(refusal);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        // A failed start (address in use, no permission) reaches the caller as an exception and becomes its one-line
        // message; the host's own log of it would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
        builder.Services.AddSingleton(options);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownTimeout);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            var listen = options.Listen;
            if (listen.Address == null)
                k.ListenLocalhost(listen.Port);
            else
                k.Listen(listen.Address, listen.Port);
        });
        var metrics = new MetricsRegistry();
        var host = new ServiceHost(options, builder.Build(), metrics);
        host.Wire();
        return host;
    }

    /// <summary>A gate whose counts appear in /metrics as PREFIX_NAME_running, _queue_length, _refused_429_total, _refused_503_total.</summary>
    public WorkGate AddGate(string name, int concurrency, int queueCapacity, TimeSpan maxQueueWait)
    {
        var gate = new WorkGate(concurrency, queueCapacity, maxQueueWait);
        _gates.Add(gate);
        string p = Options.MetricsPrefix + "_" + name;
        Metrics.GaugeFrom(p + "_running", $"Requests running behind the {name} gate.", () => gate.Running);
        Metrics.GaugeFrom(p + "_queue_length", $"Requests waiting at the {name} gate.", () => gate.Queued);
        Metrics.CounterFrom(p + "_refused_429_total", $"Requests the {name} gate refused because its queue was full.", () => gate.Refused429);
        Metrics.CounterFrom(p + "_refused_503_total", $"Requests the {name} gate refused while draining or after waiting too long.", () => gate.Refused503);
        return gate;
    }

    private void Wire()
    {
        var app = App;
        string p = Options.MetricsPrefix;
        var requests = Metrics.Counter(p + "_http_requests_total", "HTTP requests answered, by route and status code.", "route", "code");
        var latency = Metrics.Histogram(p + "_http_request_duration_seconds", "Time from request start to response end, by route.", MetricsRegistry.LatencyBuckets, "route");
        var inFlight = Metrics.Gauge(p + "_http_in_flight", "HTTP requests being answered now.");

        app.Lifetime.ApplicationStopping.Register(() =>
        {
            Draining = true;
            foreach (var g in _gates)
                g.BeginDrain();
        });

        // Outermost: measure everything and turn failures into the protocol's error shape.
        app.Use(async (context, next) =>
        {
            long start = Stopwatch.GetTimestamp();
            inFlight.Add(1);
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException e)
            {
                // Kestrel's own refusals, e.g. 413 when a body passes MaxRequestBodySize while being read.
                await ErrorResponses.WriteAsync(context, e.StatusCode, "invalid_request_error",
                    e.StatusCode == 413 ? $"request body larger than {Options.MaxBodyBytes} bytes" : e.Message);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nothing to answer.
            }
            catch (Exception e)
            {
                app.Logger.LogError(e, "{Service}: unhandled error on {Path}", Options.ServiceName, context.Request.Path);
                await ErrorResponses.WriteAsync(context, 500, "internal_error", "internal error: " + e.Message);
            }
            finally
            {
                inFlight.Add(-1);
                string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                requests.Inc(route, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
                latency.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds, route);
            }
        });
        app.Use((context, next) => BodySizeCap.RunAsync(context, next, Options.MaxBodyBytes));
        app.UseRouting();
        if (Options.Token != null)
        {
            byte[] expected = Encoding.UTF8.GetBytes("Bearer " + Options.Token);
            byte[] expectedKey = Encoding.UTF8.GetBytes(Options.Token);
            bool KeyMatches(HttpContext context) => Options.ApiKeyHeader is string header &&
                CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(context.Request.Headers[header].ToString()), expectedKey);
            app.Use(async (context, next) =>
            {
                if (!Options.PublicPaths.Contains(context.Request.Path.Value ?? "") && !KeyMatches(context) &&
                    !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), expected))
                {
                    context.Response.Headers.WWWAuthenticate = "Bearer";
                    await ErrorResponses.WriteAsync(context, 401, "authentication_error", "missing or wrong bearer token (send Authorization: Bearer TOKEN)");
                    return;
                }
                await next(context);
            });
        }
        app.Use(WorkGateExtensions.RunGatedAsync);

        app.MapGet("/health", (HttpContext context) =>
        {
            var body = new JsonObject { ["status"] = Draining ? "draining" : "ok" };
            if (HealthDetails != null)
                foreach (var (k, v) in HealthDetails())
                    body[k] = v?.DeepClone();
            context.Response.StatusCode = Draining ? 503 : 200;
            return context.Response.WriteAsync(body.ToJsonString());
        });
        app.MapGet("/metrics", (HttpContext context) =>
        {
            context.Response.ContentType = MetricsRegistry.ContentType;
            return context.Response.WriteAsync(Metrics.Render());
        });
    }

    /// <summary>Starts listening and announces the bound address on <paramref name="announce"/>.</summary>
    public async Task StartAsync(TextWriter? announce, CancellationToken cancellationToken = default)
    {
        await App.StartAsync(cancellationToken);
        string bound = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"{Options.ServiceName}: the server reports no address");
        BaseAddress = new Uri(bound.Replace("://[::]", "://[::1]").Replace("://0.0.0.0", "://127.0.0.1") + "/");
        announce?.WriteLine($"{Options.ServiceName}: listening on {bound}");
        announce?.Flush();
    }

    /// <summary>Starts, announces, and serves until SIGTERM / Ctrl+C or <paramref name="cancellationToken"/>, then drains.</summary>
    public async Task RunAsync(TextWriter? announce, CancellationToken cancellationToken = default)
    {
        await StartAsync(announce, cancellationToken);
        await App.WaitForShutdownAsync(cancellationToken);
        await StopAsync();
    }

    /// <summary>Graceful stop: refuse new work, let in-flight requests finish (bounded by the shutdown timeout).</summary>
    public Task StopAsync() => App.StopAsync();

    public ValueTask DisposeAsync() => App.DisposeAsync();
}
