using System.Globalization;
using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;

namespace Rlef.Training.Actors.Remote;

/// <summary>
/// vLLM's OpenAI-compatible <c>POST /v1/completions</c> with a token-id prompt (docs/inference-servers.md §vLLM):
/// <c>logprobs: 0</c> returns the sampled token's log-prob, <c>return_token_ids</c> the sampled ids, and
/// <c>return_tokens_as_token_ids</c> spells each logprobs token as "token_id:N" (checked against the ids). vLLM's
/// default <c>--logprobs-mode raw_logprobs</c> reports log-probs before temperature and top-p, which is the
/// behaviour log-prob the trainer needs. Each sequence is one request with its own <c>seed</c>.
/// Weights are published by writing them into the directory the server was started from and calling the
/// worker's <c>reload_weights</c> through <c>POST /collective_rpc</c> (needs VLLM_SERVER_DEV_MODE=1).
/// </summary>
public sealed class VllmSampler : ITokenSampler, IDisposable
{
    readonly InferenceServerClient _client;
    readonly string? _model;
    readonly int _vocabSize;
    readonly int _concurrency;

    /// <param name="model">The served model name (<c>--served-model-name</c>); null = the server's only model.</param>
    /// <param name="vocabSize">The learner's vocabulary: ids outside it are an error.</param>
    public VllmSampler(Uri baseUrl, string? model, int vocabSize, ServerCallOptions? options = null, int concurrency = 64,
        HttpMessageHandler? handler = null)
    {
        _client = new InferenceServerClient(baseUrl, options, handler);
        _model = model;
        _vocabSize = vocabSize;
        _concurrency = concurrency;
    }

    public string Name => $"vllm:{_client.BaseUrl}";
    public bool InProcess => false;

    public Task<IReadOnlyList<Generation>> SampleAsync(IReadOnlyList<SampleRequest> requests, SamplingOptions options,
        CancellationToken cancellationToken)
    {
        options.Validate();
        return RemoteGeneration.ForEachAsync(requests, _concurrency, (r, ct) => SampleOneAsync(r, options, ct), cancellationToken);
    }

    /// <summary>The request body (public for the tests that replay it against our own server).</summary>
    public JsonObject RequestBody(SampleRequest request, SamplingOptions options)
    {
        var body = new JsonObject
        {
            ["prompt"] = new JsonArray(request.Prompt.Select(id => (JsonNode)id).ToArray()),
            ["max_tokens"] = options.MaxTokens,
            ["temperature"] = options.Temperature,
            ["top_p"] = options.TopP,
            ["seed"] = request.Seed,
            ["n"] = 1,
            ["logprobs"] = 0,
            ["return_tokens_as_token_ids"] = true,
            ["return_token_ids"] = true,
            ["stop_token_ids"] = new JsonArray(options.StopTokenIds.Select(id => (JsonNode)id).ToArray()),
            ["skip_special_tokens"] = false,
            ["include_stop_str_in_output"] = true,
        };
        if (_model is not null) body["model"] = _model;
        if (options.TopK > 0) body["top_k"] = options.TopK;
        if (options.StopStrings.Count > 0) body["stop"] = new JsonArray(options.StopStrings.Select(s => (JsonNode)s).ToArray());
        return body;
    }

    async Task<Generation> SampleOneAsync(SampleRequest request, SamplingOptions options, CancellationToken cancellationToken)
    {
        JsonNode answer = await _client.PostAsync("v1/completions", RequestBody(request, options), cancellationToken);
        try
        {
            JsonNode choice = answer["choices"]?[0] ?? throw new FormatException("no choices[0]");
            JsonNode logprobs = choice["logprobs"] ?? throw new FormatException("no choices[0].logprobs (the server ignored logprobs: 0)");
            var tokens = (logprobs["tokens"] as JsonArray ?? throw new FormatException("no logprobs.tokens"))
                .Select(t => ParseTokenId(t?.GetValue<string>())).ToList();
            var lp = (logprobs["token_logprobs"] as JsonArray ?? throw new FormatException("no logprobs.token_logprobs"))
                .Select(v => v?.GetValue<double>() ?? double.NaN).ToList();
            if (choice["token_ids"] is JsonArray ids && !ids.Select(i => i!.GetValue<int>()).SequenceEqual(tokens))
                throw new FormatException("choices[0].token_ids differ from the ids in logprobs.tokens");
            return RemoteGeneration.Build(Name, tokens, lp, choice["finish_reason"]?.GetValue<string>(), options, _vocabSize);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or System.Text.Json.JsonException)
        {
            throw new InferenceServerException($"{Name} /v1/completions: unexpected response ({e.Message}): {InferenceServerClient.Truncate(answer.ToJsonString())}", e);
        }
    }

    // "token_id:123" (return_tokens_as_token_ids); anything else means the server did not honour the flag.
    static int ParseTokenId(string? token)
    {
        const string prefix = "token_id:";
        if (token is null || !token.StartsWith(prefix, StringComparison.Ordinal) ||
            !int.TryParse(token.AsSpan(prefix.Length), NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
            throw new FormatException($"logprobs token '{token}' is not of the form token_id:N (return_tokens_as_token_ids ignored?)");
        return id;
    }

    public async Task LoadWeightsAsync(string directory, long version, CancellationToken cancellationToken)
    {
        // reload_weights re-reads the checkpoint the server was started with (its load config), so the publisher
        // writes into that directory first; see docs/inference-servers.md §vLLM for the launch command.
        var body = new JsonObject { ["method"] = "reload_weights" };
        await _client.PostAsync("collective_rpc", body, cancellationToken);
    }

    public void Dispose() => _client.Dispose();
}
