using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Serving.Hosting;
using Rlef.Serving.Model;

namespace Rlef.Serving.Learner;

/// <summary>Caps and sizes of `rlef serve learner`.</summary>
public sealed record LearnerLimits
{
    /// <summary>Calls waiting in the futures queue before 429.</summary>
    public int QueueCapacity { get; init; } = 256;
    /// <summary>Most datums in one forward / forward_backward.</summary>
    public int MaxDatums { get; init; } = 4096;
    /// <summary>Most models created (each is a full copy of the weights plus AdamW's two moments).</summary>
    public int MaxModels { get; init; } = 4;
    public int MaxSampleTokens { get; init; } = 4096;
    public int MaxSamples { get; init; } = 64;
    /// <summary>Padded tokens per engine batch inside a forward_backward (the in-process updater's engine.micro_batch_tokens).</summary>
    public int MicroBatchTokens { get; init; } = 16384;
    /// <summary>How long retrieve_future waits before answering 408 (the client asks again).</summary>
    public TimeSpan RetrieveWait { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// `rlef serve learner`: the Tinker API subset of docs/tinker.md over the project's engine, so a CPU machine can
/// serve RLEF's learner and a client (or another service) can be checked against it. Full-parameter training of
/// the model directory it was started on (LoRA configs are accepted and ignored: docs/tinker.md); sampling from the
/// base weights or from any weights saved for the sampler; futures answered by retrieve_future.
/// </summary>
public sealed class LearnerServer : IAsyncDisposable
{
    readonly LearnerQueue _queue;
    readonly ConcurrentDictionary<string, TrainedModel?> _models = new(); // null until its create_model ran
    readonly ConcurrentDictionary<string, DateTime> _sessions = new();
    // Sampling models by owner ("" = the base weights): the weights last loaded and a generator over them. Worker thread only.
    readonly Dictionary<string, (string Name, LlamaModel Model, Generator Generator)> _samplers = new();
    long _sampledTokens, _trainedTokens;

    LearnerServer(ServiceHost host, string directory, string name, LlamaModel baseModel, string stateDirectory, LearnerLimits limits)
    {
        Host = host;
        BaseDirectory = directory;
        BaseName = name;
        Base = baseModel;
        StateDirectory = stateDirectory;
        Limits = limits;
        _queue = new LearnerQueue(limits.QueueCapacity);
    }

    public ServiceHost Host { get; }
    public string BaseDirectory { get; }
    /// <summary>The base model's name, as create_model's base_model and get_server_capabilities give it.</summary>
    public string BaseName { get; }
    public LlamaModel Base { get; }
    /// <summary>Where weights saved for the sampler go: STATE/MODEL_ID/sampler_weights/NAME (Hugging Face directories).</summary>
    public string StateDirectory { get; }
    public LearnerLimits Limits { get; }

    public static LearnerServer Create(string directory, ServerOptions options, LearnerLimits limits, string? name = null, string? stateDirectory = null)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model directory '{directory}' does not exist");
        string config = Path.Combine(directory, "config.json");
        if (!File.Exists(config)) throw new FileNotFoundException($"model directory '{directory}' has no config.json", config);
        LlamaConfig llama = LlamaConfig.Load(config);
        LlamaModel model = LlamaModel.CreateEmpty(llama);
        HfWeights.Load(directory, model.Parameters, allowMissingLmHead: llama.TieWordEmbeddings);
        model.Freeze();
        string served = name ?? Path.GetFileName(Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar));
        string state = stateDirectory ?? Path.Combine(Path.GetTempPath(), $"rlef-learner-{Environment.ProcessId}");
        Directory.CreateDirectory(state);
        var host = ServiceHost.Create(options with
        {
            MetricsPrefix = "rlef_learner",
            ErrorShape = ErrorResponses.FastApiShape,
            ApiKeyHeader = "X-API-Key",
            PublicPaths = ["/health", "/api/v1/healthz"],
        });
        var server = new LearnerServer(host, directory, served, model, state, limits);
        server.Map();
        return server;
    }

    void Map()
    {
        var app = Host.App;
        MetricsRegistry m = Host.Metrics;
        m.GaugeFrom("rlef_learner_queue_length", "Calls waiting for the learner's worker.", () => _queue.Length);
        m.CounterFrom("rlef_learner_futures_completed_total", "Calls completed.", () => Interlocked.Read(ref _queue.Completed));
        m.CounterFrom("rlef_learner_futures_failed_total", "Calls that failed.", () => Interlocked.Read(ref _queue.Failed));
        m.CounterFrom("rlef_learner_sampled_tokens_total", "Tokens sampled.", () => Interlocked.Read(ref _sampledTokens));
        m.CounterFrom("rlef_learner_trained_tokens_total", "Input tokens of forward and forward_backward calls.", () => Interlocked.Read(ref _trainedTokens));
        m.GaugeFrom("rlef_learner_models", "Models created.", () => _models.Count);
        Host.HealthDetails = () => new JsonObject { ["base_model"] = BaseName, ["models"] = _models.Count, ["queue_length"] = _queue.Length };
        Host.App.Lifetime.ApplicationStopping.Register(() => _queue.Drain(Host.Options.ShutdownTimeout));

        app.MapGet("/api/v1/healthz", () => Results.Text("{\"status\":\"ok\"}", "application/json"));
        app.MapGet("/api/v1/get_server_capabilities", () => Results.Text(new JsonObject
        {
            ["supported_models"] = new JsonArray(new JsonObject { ["model_name"] = BaseName, ["max_context_length"] = Base.Config.MaxPositionEmbeddings }),
        }.ToJsonString(), "application/json"));
        app.MapPost("/api/v1/create_session", (HttpContext c) => Json(c, body =>
        {
            string id = $"session_{Guid.NewGuid():N}"[..16];
            _sessions[id] = DateTime.UtcNow;
            return new JsonObject { ["type"] = "create_session", ["session_id"] = id };
        }));
        app.MapPost("/api/v1/session_heartbeat", (HttpContext c) => Json(c, body =>
        {
            string id = RequestFields.Text(body, "session_id") ?? throw new BadRequestException("'session_id' is required");
            if (!_sessions.ContainsKey(id)) throw new NotFoundException($"session '{id}' not found");
            _sessions[id] = DateTime.UtcNow;
            return new JsonObject { ["type"] = "session_heartbeat" };
        }));
        app.MapPost("/api/v1/create_model", (HttpContext c) => Json(c, body => CreateModel(c, body)));
        app.MapPost("/api/v1/get_info", (HttpContext c) => Json(c, body =>
        {
            string id = ModelId(body);
            return new JsonObject
            {
                ["model_id"] = id,
                ["status"] = _models[id] is null ? "pending" : "ready",
                ["model_data"] = new JsonObject { ["base_model"] = BaseName, ["model_name"] = BaseName, ["lora_config"] = null },
            };
        }));
        app.MapPost("/api/v1/forward", (HttpContext c) => Json(c, body => ForwardBackward(c, body, "forward_input", backward: false)));
        app.MapPost("/api/v1/forward_backward", (HttpContext c) => Json(c, body => ForwardBackward(c, body, "forward_backward_input", backward: true)));
        app.MapPost("/api/v1/optim_step", (HttpContext c) => Json(c, body =>
        {
            string id = ModelId(body);
            AdamParams adam = TinkerWire.ReadAdam(body["adam_params"]);
            return Submit(c, id, () => Ready(id).OptimStep(adam));
        }));
        app.MapPost("/api/v1/save_weights_for_sampler", (HttpContext c) => Json(c, body =>
        {
            string id = ModelId(body);
            string name = RequestFields.Text(body, "path") ?? $"step-{Guid.NewGuid():N}"[..13];
            if (!TinkerWire.ValidName(name)) throw new BadRequestException($"'path' must match ^[A-Za-z0-9_-]{{1,255}}$, got '{name}'");
            return Submit(c, id, () =>
            {
                TrainedModel model = Ready(id);
                model.SaveForSampler(SamplerDirectory(id, name), BaseDirectory);
                return new JsonObject { ["path"] = $"tinker://{id}/sampler_weights/{name}", ["type"] = "save_weights_for_sampler" };
            });
        }));
        app.MapPost("/api/v1/save_weights", (HttpContext c) => Json(c, body =>
        {
            string id = ModelId(body);
            string name = RequestFields.Text(body, "path") ?? $"state-{Guid.NewGuid():N}"[..14];
            if (!TinkerWire.ValidName(name)) throw new BadRequestException($"'path' must match ^[A-Za-z0-9_-]{{1,255}}$, got '{name}'");
            return Submit(c, id, () =>
            {
                Ready(id).SaveState(Path.Combine(StateDirectory, id, "weights", name));
                return new JsonObject { ["path"] = $"tinker://{id}/weights/{name}", ["type"] = "save_weights" };
            });
        }));
        app.MapPost("/api/v1/load_weights", (HttpContext c) => Json(c, body =>
        {
            string id = ModelId(body);
            string path = RequestFields.Text(body, "path") ?? throw new BadRequestException("'path' is required");
            bool optimizer = RequestFields.Flag(body, "optimizer", false);
            string[] parts = path.StartsWith("tinker://", StringComparison.Ordinal) ? path["tinker://".Length..].Split('/') : [];
            if (parts is not [var owner, "weights", var name] || !TinkerWire.ValidName(owner) || !TinkerWire.ValidName(name))
                throw new BadRequestException($"'path' must be tinker://MODEL_ID/weights/NAME, got '{path}'");
            string directory = Path.Combine(StateDirectory, owner, "weights", name);
            if (!Directory.Exists(directory)) throw new NotFoundException($"no weights saved at '{path}'");
            return Submit(c, id, () =>
            {
                Ready(id).LoadState(directory, optimizer);
                return new JsonObject { ["path"] = path, ["type"] = "load_weights" };
            });
        }));
        app.MapPost("/api/v1/asample", (HttpContext c) => Json(c, body => Sample(c, body)));
        app.MapPost("/api/v1/retrieve_future", (HttpContext c) => RetrieveAsync(c));
    }

    string SamplerDirectory(string modelId, string name) => Path.Combine(StateDirectory, modelId, "sampler_weights", name);

    string ModelId(JsonObject body)
    {
        string id = RequestFields.Text(body, "model_id") ?? throw new BadRequestException("'model_id' is required");
        if (!_models.ContainsKey(id)) throw new NotFoundException($"model '{id}' not found");
        return id;
    }

    TrainedModel Ready(string id) => _models[id] ?? throw new InvalidOperationException($"model '{id}' was not created");

    JsonNode CreateModel(HttpContext c, JsonObject body)
    {
        string baseModel = RequestFields.Text(body, "base_model") ?? throw new BadRequestException("'base_model' is required");
        if (baseModel != BaseName)
            throw new BadRequestException($"'base_model' '{baseModel}' is not served here; this server trains '{BaseName}' (see get_server_capabilities)");
        if (_models.Count >= Limits.MaxModels)
            throw new BadRequestException($"this server holds at most {Limits.MaxModels} models (--max-models)");
        string id = $"model_{Guid.NewGuid():N}"[..14];
        _models[id] = null;
        return Submit(c, id, () =>
        {
            LlamaModel weights = Base.Clone();
            foreach (var p in weights.Parameters) p.Frozen = false;
            _models[id] = new TrainedModel(id, BaseName, weights, Limits.MicroBatchTokens);
            return new JsonObject { ["model_id"] = id, ["type"] = "create_model" };
        });
    }

    JsonNode ForwardBackward(HttpContext c, JsonObject body, string inputField, bool backward)
    {
        string id = ModelId(body);
        if (body[inputField] is not JsonObject input) throw new BadRequestException($"'{inputField}' must be an object");
        string lossFn = RequestFields.Text(input, "loss_fn") ?? throw new BadRequestException($"'{inputField}.loss_fn' is required");
        if (!LossFunctions.Names.Contains(lossFn))
            throw new BadRequestException($"'{inputField}.loss_fn' '{lossFn}' is not supported here (supported: {string.Join(", ", LossFunctions.Names)})");
        double clipLow = 0.8, clipHigh = 1.2;
        if (input["loss_fn_config"] is JsonObject config)
        {
            foreach (var (key, _) in config)
                if (key is not ("clip_low_threshold" or "clip_high_threshold"))
                    throw new BadRequestException($"'{inputField}.loss_fn_config.{key}' is not supported (only clip_low_threshold, clip_high_threshold)");
            clipLow = RequestFields.Number(config, "clip_low_threshold", 0.8, 0, 1);
            clipHigh = RequestFields.Number(config, "clip_high_threshold", 1.2, 1, 1e6);
        }
        if (input["data"] is not JsonArray data || data.Count == 0) throw new BadRequestException($"'{inputField}.data' must be a non-empty list of Datum");
        if (data.Count > Limits.MaxDatums) throw new BadRequestException($"'{inputField}.data' has {data.Count} datums; the cap is {Limits.MaxDatums}");
        var datums = new Datum[data.Count];
        for (int i = 0; i < datums.Length; i++)
        {
            datums[i] = TinkerWire.ReadDatum(data[i], $"{inputField}.data[{i}]", Base.Config.VocabSize);
            if (datums[i].Input.Length > Base.Config.MaxPositionEmbeddings)
                throw new BadRequestException($"'{inputField}.data[{i}]' has {datums[i].Input.Length} tokens; the context is {Base.Config.MaxPositionEmbeddings}");
            foreach (string needed in LossFunctions.Required(lossFn))
                if (!datums[i].LossInputs.ContainsKey(needed))
                    throw new BadRequestException($"'{inputField}.data[{i}].loss_fn_inputs.{needed}' is required by loss_fn '{lossFn}'");
        }
        return Submit(c, id, () =>
        {
            Interlocked.Add(ref _trainedTokens, datums.Sum(d => (long)d.Input.Length));
            return Ready(id).ForwardBackward(datums, lossFn, clipLow, clipHigh, backward);
        });
    }

    JsonNode Sample(HttpContext c, JsonObject body)
    {
        int[] prompt = TinkerWire.ModelInput(body["prompt"], "prompt", Base.Config.VocabSize);
        if (prompt.Length == 0) throw new BadRequestException("'prompt' has no tokens");
        int samples = (int)RequestFields.Integer(body, "num_samples", 1, 1, Limits.MaxSamples);
        bool promptLogProbs = RequestFields.Flag(body, "prompt_logprobs", false);
        if (RequestFields.Integer(body, "topk_prompt_logprobs", 0, 0, 0) != 0) throw new BadRequestException("'topk_prompt_logprobs' is not supported");
        if (body["sampling_params"] is not JsonObject sp) throw new BadRequestException("'sampling_params' must be an object");
        int maxTokens = (int)RequestFields.Integer(sp, "max_tokens", -1, 1, Limits.MaxSampleTokens);
        if (maxTokens < 0) throw new BadRequestException("'sampling_params.max_tokens' is required");
        if (prompt.Length + maxTokens > Base.Config.MaxPositionEmbeddings)
            throw new BadRequestException($"prompt ({prompt.Length} tokens) + max_tokens ({maxTokens}) exceed the context of {Base.Config.MaxPositionEmbeddings}");
        int seed = sp["seed"] is null ? Random.Shared.Next() : unchecked((int)RequestFields.Integer(sp, "seed", 0, long.MinValue, long.MaxValue));
        int[] stops = [];
        if (sp["stop"] is JsonArray stopList)
        {
            if (stopList.Any(s => s is JsonValue v && v.TryGetValue(out string? _)))
                throw new BadRequestException("'sampling_params.stop' as strings is not supported here; send stop token ids");
            stops = RequestFields.TokenIds(stopList, "sampling_params.stop", Base.Config.VocabSize);
        }
        else if (sp["stop"] is not null) throw new BadRequestException("'sampling_params.stop' must be a list of token ids");
        var options = new SamplingOptions
        {
            Temperature = (float)RequestFields.Number(sp, "temperature", 1, 0, 100),
            TopP = (float)RequestFields.Number(sp, "top_p", 1, 1e-9, 1),
            TopK = Math.Max(0, (int)RequestFields.Integer(sp, "top_k", -1, -1, Base.Config.VocabSize)),
            MaxTokens = maxTokens,
            StopTokenIds = stops,
            Seed = seed,
        };
        string? baseModel = RequestFields.Text(body, "base_model"), modelPath = RequestFields.Text(body, "model_path");
        if (body["sampling_session_id"] is not null) throw new BadRequestException("'sampling_session_id' is not supported here; send base_model or model_path");
        if ((baseModel is null) == (modelPath is null)) throw new BadRequestException("exactly one of 'base_model' and 'model_path' must be given");
        if (baseModel is not null && baseModel != BaseName) throw new BadRequestException($"'base_model' '{baseModel}' is not served here ('{BaseName}' is)");
        (string owner, string name) = modelPath is null ? ("", "") : TinkerWire.SamplerPath(modelPath);
        if (owner.Length > 0 && !Directory.Exists(SamplerDirectory(owner, name)))
            throw new NotFoundException($"no weights saved for the sampler at '{modelPath}'");
        return Submit(c, owner.Length > 0 ? owner : null, () =>
        {
            var (model, generator) = SamplerFor(owner, name);
            // One sample: the request's seed seeds its stream directly, as the in-process sampler seeds each sequence.
            var seeds = Enumerable.Range(0, samples).Select(i => samples == 1 ? seed : Generator.SequenceSeed(seed, i)).ToList();
            var generations = generator.Generate(Enumerable.Repeat((IReadOnlyList<int>)prompt, samples).ToList(), options, sequenceSeeds: seeds);
            Interlocked.Add(ref _sampledTokens, generations.Sum(g => (long)g.Tokens.Length));
            var answer = new JsonObject
            {
                ["type"] = "sample",
                ["sequences"] = new JsonArray(generations.Select(g => (JsonNode)new JsonObject
                {
                    ["tokens"] = new JsonArray(g.Tokens.Select(t => (JsonNode)t).ToArray()),
                    ["logprobs"] = new JsonArray(g.LogProbs.Select(l => (JsonNode)JsonValue.Create(l)).ToArray()),
                    ["stop_reason"] = g.FinishReason == FinishReason.Length ? "length" : "stop",
                }).ToArray()),
                ["prompt_logprobs"] = null,
            };
            if (promptLogProbs)
            {
                float[] scored = Scorer.LogProbs(model, [prompt], Limits.MicroBatchTokens)[0];
                answer["prompt_logprobs"] = new JsonArray(new JsonNode?[] { null }.Concat(scored.Select(l => (JsonNode)JsonValue.Create(l))).ToArray());
            }
            return answer;
        });
    }

    (LlamaModel Model, Generator Generator) SamplerFor(string owner, string name)
    {
        if (owner.Length == 0)
        {
            if (!_samplers.TryGetValue("", out var b)) _samplers[""] = b = ("", Base, new Generator(Base));
            return (b.Model, b.Generator);
        }
        if (!_samplers.TryGetValue(owner, out var s))
        {
            LlamaModel model = LlamaModel.CreateEmpty(Base.Config);
            s = ("", model, new Generator(model));
        }
        if (s.Name != name)
        {
            HfWeights.Load(SamplerDirectory(owner, name), s.Model.Parameters, allowMissingLmHead: Base.Config.TieWordEmbeddings);
            s = (name, s.Model, s.Generator);
        }
        _samplers[owner] = s;
        return (s.Model, s.Generator);
    }

    // Queues work and answers the UntypedAPIFuture; a repeated X-Idempotency-Key gets the first call's future.
    JsonNode Submit(HttpContext c, string? modelId, Func<JsonNode> work)
    {
        string? key = c.Request.Headers["X-Idempotency-Key"].FirstOrDefault();
        if (key is { Length: > 256 }) throw new BadRequestException("'X-Idempotency-Key' is longer than 256 characters");
        long? id = _queue.Submit(work, key is { Length: > 0 } ? $"{c.Request.Path}|{key}" : null);
        if (id is null) throw new QueueFullException();
        var answer = new JsonObject { ["request_id"] = id.Value.ToString(CultureInfo.InvariantCulture) };
        if (modelId is not null) answer["model_id"] = modelId;
        return answer;
    }

    async Task RetrieveAsync(HttpContext c)
    {
        JsonObject body;
        long id;
        try
        {
            body = await RequestFields.ReadAsync(c.Request.Body, c.RequestAborted);
            string text = RequestFields.Text(body, "request_id") ?? throw new BadRequestException("'request_id' is required");
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id)) throw new BadRequestException($"'request_id' '{text}' is not a request id of this server");
        }
        catch (BadRequestException e)
        {
            await ErrorResponses.WriteAsync(c, 400, "invalid_request_error", e.Message);
            return;
        }
        FutureOutcome? outcome;
        try
        {
            outcome = await _queue.RetrieveAsync(id, Limits.RetrieveWait, c.RequestAborted);
        }
        catch (KeyNotFoundException e)
        {
            await ErrorResponses.WriteAsync(c, 404, "not_found", e.Message);
            return;
        }
        c.Response.ContentType = "application/json";
        if (outcome is null)
        {
            c.Response.StatusCode = 408;
            await c.Response.WriteAsync(new JsonObject { ["detail"] = "the request is still running; ask again", ["queue_state"] = "active" }.ToJsonString());
            return;
        }
        if (outcome.Error is not null)
        {
            c.Response.StatusCode = outcome.UserError ? 400 : 500;
            await c.Response.WriteAsync(new JsonObject { ["error"] = outcome.Error, ["category"] = outcome.UserError ? "user" : "server" }.ToJsonString());
            return;
        }
        await c.Response.WriteAsync(outcome.Result!.ToJsonString(), c.RequestAborted);
    }

    sealed class QueueFullException : Exception;

    // Reads the JSON body, runs the handler, writes its JSON; protocol errors become 4xx in FastAPI's shape.
    static async Task Json(HttpContext context, Func<JsonObject, JsonNode> handle)
    {
        JsonNode answer;
        try
        {
            JsonObject body = await RequestFields.ReadAsync(context.Request.Body, context.RequestAborted);
            answer = handle(body);
        }
        catch (BadRequestException e)
        {
            await ErrorResponses.WriteAsync(context, 400, "invalid_request_error", e.Message);
            return;
        }
        catch (NotFoundException e)
        {
            await ErrorResponses.WriteAsync(context, 404, "not_found", e.Message);
            return;
        }
        catch (QueueFullException)
        {
            await ErrorResponses.WriteAsync(context, 429, "queue_full", "the learner's queue is full; retry later", retryAfterSeconds: 1);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer.ToJsonString(), context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        _queue.Dispose();
    }
}
