using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;

namespace Rlef.Training.Actors.Remote;

/// <summary>
/// SGLang's native <c>POST /generate</c> with <c>input_ids</c>, <c>sampling_params</c> and <c>return_logprob</c>
/// (docs/inference-servers.md §SGLang): the answer's <c>meta_info.output_token_logprobs</c> holds
/// [log-prob, token id, text] per sampled token. SGLang reports log-probs after temperature unless it runs with
/// SGLANG_RETURN_ORIGINAL_LOGPROB=1 (needed unless the rollout temperature is 1), and honours
/// <c>sampling_seed</c> under <c>--enable-deterministic-inference</c>. Weights: <c>POST /update_weights_from_disk</c>.
/// `rlef serve model` speaks the same protocol (the <c>rlef:</c> actors).
/// </summary>
public sealed class SglangSampler : ITokenSampler, IDisposable
{
    readonly InferenceServerClient _client;
    readonly int _vocabSize;
    readonly int _concurrency;
    readonly string _scheme;

    /// <param name="scheme">"sglang", or "rlef" for `rlef serve model` (the same protocol).</param>
    public SglangSampler(Uri baseUrl, int vocabSize, ServerCallOptions? options = null, int concurrency = 64, string scheme = "sglang",
        HttpMessageHandler? handler = null)
    {
        _client = new InferenceServerClient(baseUrl, options, handler);
        _vocabSize = vocabSize;
        _concurrency = concurrency;
        _scheme = scheme;
    }

    public string Name => $"{_scheme}:{_client.BaseUrl}";
    public bool InProcess => false;

    /// <summary>Most sequences sent in one batched request (SGLang's list form of input_ids and sampling_params).</summary>
    public int MaxPerRequest { get; init; } = 32;

    /// <summary>
    /// One request per group of up to <see cref="MaxPerRequest"/> sequences, in SGLang's batch form (a list of
    /// input_ids with one sampling_params each, so each keeps its own seed): the server then samples them as one batch
    /// rather than as requests that happen to arrive together. Groups run concurrently (at most the concurrency).
    /// </summary>
    public async Task<IReadOnlyList<Generation>> SampleAsync(IReadOnlyList<SampleRequest> requests, SamplingOptions options,
        CancellationToken cancellationToken)
    {
        options.Validate();
        if (requests.Count <= 1)
            return await RemoteGeneration.ForEachAsync(requests, _concurrency, (r, ct) => SampleOneAsync(r, options, ct), cancellationToken);
        var groups = requests.Chunk(Math.Max(1, MaxPerRequest)).ToList();
        using var slots = new SemaphoreSlim(Math.Max(1, _concurrency / Math.Max(1, MaxPerRequest)));
        var answers = await Task.WhenAll(groups.Select(async group =>
        {
            await slots.WaitAsync(cancellationToken);
            try { return await SampleGroupAsync(group, options, cancellationToken); }
            finally { slots.Release(); }
        }));
        return answers.SelectMany(a => a).ToList();
    }

    async Task<Generation[]> SampleGroupAsync(SampleRequest[] group, SamplingOptions options, CancellationToken cancellationToken)
    {
        if (group.Length == 1) return [await SampleOneAsync(group[0], options, cancellationToken)];
        var bodies = group.Select(r => RequestBody(r, options)).ToList();
        var body = new JsonObject
        {
            ["input_ids"] = new JsonArray(bodies.Select(b => b["input_ids"]!.DeepClone()).ToArray()),
            ["sampling_params"] = new JsonArray(bodies.Select(b => b["sampling_params"]!.DeepClone()).ToArray()),
            ["return_logprob"] = true,
        };
        JsonNode answer = await _client.PostAsync("generate", body, cancellationToken);
        if (answer is not JsonArray list || list.Count != group.Length)
            throw new InferenceServerException($"{Name} /generate: a batch of {group.Length} answered {(answer is JsonArray a ? a.Count + " items" : "no list")}: {InferenceServerClient.Truncate(answer.ToJsonString())}");
        return list.Select(item => Parse(item!, options)).ToArray();
    }

    /// <summary>The request body (public for the tests that replay it against our own server).</summary>
    public static JsonObject RequestBody(SampleRequest request, SamplingOptions options)
    {
        var sampling = new JsonObject
        {
            ["max_new_tokens"] = options.MaxTokens,
            ["temperature"] = options.Temperature,
            ["top_p"] = options.TopP,
            ["top_k"] = options.TopK > 0 ? options.TopK : -1,
            ["stop_token_ids"] = new JsonArray(options.StopTokenIds.Select(id => (JsonNode)id).ToArray()),
            ["skip_special_tokens"] = false,
            ["no_stop_trim"] = true,
            ["sampling_seed"] = request.Seed,
        };
        if (options.StopStrings.Count > 0) sampling["stop"] = new JsonArray(options.StopStrings.Select(s => (JsonNode)s).ToArray());
        return new JsonObject
        {
            ["input_ids"] = new JsonArray(request.Prompt.Select(id => (JsonNode)id).ToArray()),
            ["sampling_params"] = sampling,
            ["return_logprob"] = true,
        };
    }

    async Task<Generation> SampleOneAsync(SampleRequest request, SamplingOptions options, CancellationToken cancellationToken)
    {
        JsonNode answer = await _client.PostAsync("generate", RequestBody(request, options), cancellationToken);
        return Parse(answer, options);
    }

    Generation Parse(JsonNode answer, SamplingOptions options)
    {
        try
        {
            JsonNode meta = answer["meta_info"] ?? throw new FormatException("no meta_info");
            var entries = meta["output_token_logprobs"] as JsonArray ?? throw new FormatException("no meta_info.output_token_logprobs (return_logprob ignored?)");
            var ids = new List<int>(entries.Count);
            var lp = new List<double>(entries.Count);
            foreach (JsonNode? e in entries)
            {
                if (e is not JsonArray { Count: >= 2 } pair) throw new FormatException("an output_token_logprobs entry is not [logprob, token_id, ...]");
                lp.Add(pair[0]?.GetValue<double>() ?? double.NaN);
                ids.Add(pair[1]!.GetValue<int>());
            }
            if (answer["output_ids"] is JsonArray outputIds && !outputIds.Select(i => i!.GetValue<int>()).SequenceEqual(ids))
                throw new FormatException("output_ids differ from the ids in meta_info.output_token_logprobs");
            string? finish = meta["finish_reason"]?["type"]?.GetValue<string>();
            return RemoteGeneration.Build(Name, ids, lp, finish, options, _vocabSize);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or System.Text.Json.JsonException)
        {
            throw new InferenceServerException($"{Name} /generate: unexpected response ({e.Message}): {InferenceServerClient.Truncate(answer.ToJsonString())}", e);
        }
    }

    public async Task LoadWeightsAsync(string directory, long version, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["model_path"] = directory,
            ["weight_version"] = version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        JsonNode answer = await _client.PostAsync("update_weights_from_disk", body, cancellationToken);
        if (answer["success"]?.GetValue<bool>() != true)
            throw new InferenceServerException($"{Name} /update_weights_from_disk did not succeed: {InferenceServerClient.Truncate(answer.ToJsonString())}");
    }

    public void Dispose() => _client.Dispose();
}
