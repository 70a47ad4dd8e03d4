using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Rlef.Sandbox;
using Rlef.Serving.Hosting;

namespace Rlef.Serving.Sandbox;

/// <summary>
/// `rlef serve sandbox`: the warm sandbox pool over HTTP (docs/sandbox-service.md). `POST /run_code` speaks
/// SandboxFusion's API; `POST /run_tests` runs one program on many tests with the project's verdicts;
/// `GET /v1/ping`, `/health`, `/metrics`. Every run goes through one work gate sized to the pool's workers.
/// </summary>
public sealed class SandboxService : IAsyncDisposable
{
    private readonly SandboxServerOptions _options;
    private readonly SandboxPool _pool;
    private readonly Counter _verdicts;
    private readonly Histogram _testSeconds;

    private SandboxService(ServiceHost host, SandboxPool pool, SandboxServerOptions options)
    {
        Host = host;
        _pool = pool;
        _options = options;
        var m = host.Metrics;
        _verdicts = m.Counter("rlef_sandbox_verdicts_total", "Test verdicts given, by endpoint and verdict.", "endpoint", "verdict");
        _testSeconds = m.Histogram("rlef_sandbox_test_seconds", "Per-test latency inside the service (worker start of the test to its result).", MetricsRegistry.LatencyBuckets, "endpoint");
        m.CounterFrom("rlef_sandbox_worker_starts_total", "Sandbox worker processes started (first starts and replacements).", () => pool.WorkersStarted);
        m.CounterFrom("rlef_sandbox_worker_recycles_total", "Workers replaced after their job quota or an anomaly (starts beyond the pool size).",
            () => Math.Max(0, pool.WorkersStarted - options.Pool.Workers));
        m.GaugeFrom("rlef_sandbox_workers", "Sandbox workers in the pool.", () => options.Pool.Workers);
    }

    public ServiceHost Host { get; }

    /// <summary>Builds the service; throws <see cref="ArgumentException"/> (refused listen policy) or
    /// <see cref="InvalidOperationException"/> (no bubblewrap / Python) with a one-line message.</summary>
    public static SandboxService Create(ServerOptions server, SandboxServerOptions options)
    {
        var host = ServiceHost.Create(server with
        {
            ServiceName = server.ServiceName == new ServerOptions().ServiceName ? "rlef serve sandbox" : server.ServiceName,
            ErrorShape = ErrorResponses.FastApiShape,
            MetricsPrefix = "rlef_sandbox",
        });
        SandboxPool pool;
        try
        {
            pool = new SandboxPool(options.Pool);
        }
        catch
        {
            _ = host.DisposeAsync().AsTask();
            throw;
        }
        var service = new SandboxService(host, pool, options);
        service.Map();
        return service;
    }

    private void Map()
    {
        var app = Host.App;
        var gate = Host.AddGate("jobs", _options.Pool.Workers, _options.QueueCapacity, _options.MaxQueueWait);
        Host.HealthDetails = () => new JsonObject
        {
            ["workers"] = _options.Pool.Workers,
            ["running"] = gate.Running,
            ["queued"] = gate.Queued,
        };
        // FastAPI answers JSON "pong".
        app.MapGet("/v1/ping", () => Results.Json("pong"));
        app.MapPost("/run_code", RunCodeAsync).RequireWorkGate(gate);
        app.MapPost("/run_tests", RunTestsAsync).RequireWorkGate(gate);
    }

    /// <summary>Starts the pool's workers, then listens and announces the address.</summary>
    public async Task StartAsync(TextWriter? announce, CancellationToken cancellationToken = default)
    {
        await _pool.WarmUpAsync(cancellationToken);
        await Host.StartAsync(announce, cancellationToken);
    }

    /// <summary>Serves until SIGTERM / Ctrl+C or cancellation, drains in-flight requests, then stops the pool.</summary>
    public async Task RunAsync(TextWriter? announce, CancellationToken cancellationToken = default)
    {
        await StartAsync(announce, cancellationToken);
        await Host.App.WaitForShutdownAsync(cancellationToken);
        await Host.StopAsync();
    }

    private async Task RunCodeAsync(HttpContext context)
    {
        if (await ReadJsonAsync(context) is not { } body)
            return;
        SandboxFusionProtocol.RunCode parsed;
        try
        {
            parsed = SandboxFusionProtocol.ReadRequest(body, _options);
        }
        catch (WireFormatException e)
        {
            await Unprocessable(context, e);
            return;
        }
        if (parsed.UnsupportedLanguage is string language)
        {
            await ErrorResponses.WriteAsync(context, 400, "unsupported_language",
                $"language '{language}' is not supported by this sandbox; supported: {string.Join(", ", SandboxFusionProtocol.SupportedLanguages)}");
            return;
        }
        if (await RunAsync(context, parsed.Request, "run_code") is { } report)
            await WriteJsonAsync(context, SandboxFusionProtocol.WriteResponse(report.Results[0]));
    }

    private async Task RunTestsAsync(HttpContext context)
    {
        if (await ReadJsonAsync(context) is not { } body)
            return;
        ExecutionRequest request;
        try
        {
            request = CapLimits(RunTestsWire.ReadRequest(body, _options.DefaultLimits));
        }
        catch (WireFormatException e)
        {
            await Unprocessable(context, e);
            return;
        }
        if (await RunAsync(context, request, "run_tests") is { } report)
            await WriteJsonAsync(context, RunTestsWire.WriteReport(report));
    }

    /// <summary>Refuses non-positive or absurd limits and lowers the others to the server's maxima.</summary>
    private ExecutionRequest CapLimits(ExecutionRequest request)
    {
        if (request.Tests.Count == 0)
            throw new WireFormatException("tests", "must hold at least one test");
        if (request.Tests.Count > _options.MaxTests)
            throw new WireFormatException("tests", $"{request.Tests.Count} tests; this server takes at most {_options.MaxTests} per request");
        ExecutionLimits l = request.Limits, max = _options.MaxLimits;
        double Cap(double value, double limit, string field) =>
            !(value > 0) ? throw new WireFormatException("limits." + field, $"must be positive (got {value})")
            : value > limit * SandboxServerOptions.AbsurdFactor ? throw new WireFormatException("limits." + field, $"{value} is absurd (this server allows at most {limit})")
            : Math.Min(value, limit);
        return request with
        {
            Limits = new ExecutionLimits
            {
                CpuTimeSeconds = Cap(l.CpuTimeSeconds, max.CpuTimeSeconds, "cpu_time_s"),
                WallTimeSeconds = Cap(l.WallTimeSeconds, max.WallTimeSeconds, "wall_time_s"),
                MemoryMb = (int)Cap(l.MemoryMb, max.MemoryMb, "memory_mb"),
                OutputBytes = (int)Cap(l.OutputBytes, max.OutputBytes, "output_bytes"),
                MaxProcesses = (int)Cap(l.MaxProcesses, max.MaxProcesses, "max_processes"),
                MaxFileBytes = (int)Cap(l.MaxFileBytes, max.MaxFileBytes, "max_file_bytes"),
            },
        };
    }

    /// <summary>Runs on the pool and counts the verdicts; null when the pool found the request malformed (answered 422).</summary>
    private async Task<ExecutionReport?> RunAsync(HttpContext context, ExecutionRequest request, string endpoint)
    {
        ExecutionReport report;
        try
        {
            report = await _pool.RunAsync(request, context.RequestAborted);
        }
        catch (ArgumentException e)
        {
            await WriteJsonAsync(context, SandboxFusionProtocol.ValidationError("body", "value_error", e.Message), 422);
            return null;
        }
        foreach (var r in report.Results)
        {
            _verdicts.Inc(endpoint, r.Verdict.ToName());
            _testSeconds.Observe(r.HostMs / 1000, endpoint);
        }
        return report;
    }

    /// <summary>The body as JSON, or null after answering 422 in FastAPI's shape (json_invalid).</summary>
    private static async Task<JsonNode?> ReadJsonAsync(HttpContext context)
    {
        try
        {
            return await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted)
                ?? throw new JsonException("the body is JSON null");
        }
        catch (JsonException e)
        {
            var error = SandboxFusionProtocol.ValidationError("body", "json_invalid", SandboxFusionProtocol.JsonErrorMessage(e));
            await WriteJsonAsync(context, error, 422);
            return null;
        }
    }

    private static Task Unprocessable(HttpContext context, WireFormatException e) =>
        WriteJsonAsync(context, SandboxFusionProtocol.ValidationError(e.Field, "value_error", e.Reason), 422);

    private static Task WriteJsonAsync(HttpContext context, JsonObject body, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(ErrorResponses.Json));
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await _pool.DisposeAsync();
    }
}
