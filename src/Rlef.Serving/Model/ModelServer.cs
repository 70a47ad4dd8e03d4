using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rlef.Engine.IO;
using Rlef.Serving.Hosting;

namespace Rlef.Serving.Model;

/// <summary>
/// `rlef serve model`: the project's engine behind the endpoints inference servers offer to RL trainers
/// (docs/inference-servers.md): OpenAI-compatible <c>/v1/models</c>, <c>/v1/completions</c>, <c>/v1/chat/completions</c>
/// as vLLM serves them, SGLang's <c>/generate</c> and <c>/update_weights_from_disk</c>, vLLM's
/// <c>/collective_rpc</c> <c>reload_weights</c> (re-reads the served directory), plus the shared <c>/health</c> and
/// <c>/metrics</c>. Concurrent requests are batched by the <see cref="GenerationScheduler"/>; requests beyond the
/// batch and the queue are refused with 429/503 and Retry-After by the hosting's work gate.
/// </summary>
public sealed class ModelServer : IAsyncDisposable
{
    ModelServer(ServiceHost host, ServedModel model, string directory)
    {
        Host = host;
        Model = model;
        Directory = directory;
    }

    public ServiceHost Host { get; }
    public ServedModel Model { get; }
    /// <summary>The served model directory (what <c>reload_weights</c> re-reads).</summary>
    public string Directory { get; }

    /// <param name="name">The served model name (default: the directory's name), as clients give it in "model".</param>
    /// <param name="tokenizerSpec">The tokenizer when not the directory's own (e.g. "byte"), as model.tokenizer names it.</param>
    public static ModelServer Create(string directory, ServerOptions options, ModelServingLimits limits, string? name = null,
        string? tokenizerSpec = null)
    {
        ChatModel loaded = ModelDirectory.Load(directory, tokenizerSpec);
        string served = name ?? Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        var model = new ServedModel(served, loaded.Model, loaded.Format, limits);
        var host = ServiceHost.Create(options with { ServiceName = options.ServiceName, MetricsPrefix = "rlef_model" });
        var server = new ModelServer(host, model, directory);
        server.Map();
        return server;
    }

    void Map()
    {
        var app = Host.App;
        // The gate admits a batch's worth of requests beyond the running ones; the scheduler batches what it admits.
        WorkGate gate = Host.AddGate("generate", concurrency: Model.Limits.MaxBatch * 2, queueCapacity: Model.Limits.QueueCapacity,
            Model.Limits.MaxQueueWait);
        AddMetrics();
        Host.HealthDetails = () => new JsonObject { ["model"] = Model.Name, ["weight_version"] = Model.Scheduler.WeightVersion };

        app.MapGet("/v1/models", () => Results.Text(OpenAiRoutes.Models(Model).ToJsonString(), "application/json"));
        app.MapPost("/v1/completions", (HttpContext c) => Json(c, async body => await OpenAiRoutes.CompletionsAsync(body, Model, c.RequestAborted))).RequireWorkGate(gate);
        app.MapPost("/v1/chat/completions", (HttpContext c) => Json(c, async body => await OpenAiRoutes.ChatAsync(body, Model, c.RequestAborted))).RequireWorkGate(gate);
        app.MapPost("/generate", (HttpContext c) => Json(c, async body => await SglangRoutes.GenerateAsync(body, Model, c.RequestAborted))).RequireWorkGate(gate);
        app.MapPost("/update_weights_from_disk", (HttpContext c) => Json(c, async body =>
        {
            var (status, answer) = await SglangRoutes.UpdateWeightsFromDiskAsync(body, Model);
            c.Response.StatusCode = status;
            return (JsonNode)answer;
        }));
        app.MapPost("/collective_rpc", (HttpContext c) => Json(c, async body =>
        {
            string method = RequestFields.Text(body, "method") ?? throw new BadRequestException("Missing 'method' in request body");
            if (method != "reload_weights")
                throw new BadRequestException($"collective_rpc method '{method}' is not supported (only reload_weights)");
            await Model.Scheduler.ReloadAsync(Directory, null);
            return (JsonNode)new JsonObject { ["results"] = new JsonArray((JsonNode?)null) };
        }));
    }

    void AddMetrics()
    {
        MetricsRegistry m = Host.Metrics;
        SchedulerCounters counters = Model.Scheduler.Counters;
        m.CounterFrom("rlef_model_generated_tokens_total", "Tokens sampled.", () => Interlocked.Read(ref counters.SampledTokens));
        m.CounterFrom("rlef_model_prompt_tokens_total", "Prompt tokens of sampled sequences.", () => counters.PromptTokens);
        m.CounterFrom("rlef_model_sequences_total", "Sequences sampled.", () => counters.Sequences);
        m.CounterFrom("rlef_model_batches_total", "Batched generation calls.", () => counters.Batches);
        m.CounterFrom("rlef_model_generation_seconds_total", "Seconds inside batched generation calls.", () => counters.GenerationSeconds);
        m.GaugeFrom("rlef_model_generation_tokens_per_second", "Sampled tokens per second of generation so far.",
            () => counters.GenerationSeconds > 0 ? Interlocked.Read(ref counters.SampledTokens) / counters.GenerationSeconds : 0);
        m.GaugeFrom("rlef_model_scheduler_queue_length", "Requests waiting for the next batch.", () => Model.Scheduler.QueueLength);
        m.GaugeFrom("rlef_model_weight_reloads", "Weight reloads since start.", () => Interlocked.Read(ref counters.WeightVersion));
        Histogram sizes = m.Histogram("rlef_model_batch_size", "Sequences per batched generation call.", [1, 2, 4, 8, 16, 32, 64, 128, 256]);
        Model.Scheduler.BatchSampled = size => sizes.Observe(size);
    }

    // Reads the JSON body, runs the handler, writes its JSON; protocol errors become 400/404 in the service's shape.
    static async Task Json(HttpContext context, Func<JsonObject, Task<JsonNode>> handle)
    {
        JsonNode answer;
        try
        {
            JsonObject body = await RequestFields.ReadAsync(context.Request.Body, context.RequestAborted);
            answer = await handle(body);
        }
        catch (BadRequestException e)
        {
            await ErrorResponses.WriteAsync(context, 400, "BadRequestError", e.Message);
            return;
        }
        catch (NotFoundException e)
        {
            await ErrorResponses.WriteAsync(context, 404, "NotFoundError", e.Message);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.ToJsonString(), context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Model.DisposeAsync();
    }
}
