using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;
using Rlef.Training.Learner;

namespace Rlef.Training.Actors.Remote;

/// <summary>
/// The sampler of a Tinker-compatible training service (docs/tinker.md, <c>asample</c>): one request per sequence
/// with its token-id prompt and its own seed, from the weights last saved for the sampler (<c>model_path</c>) or,
/// before the first save, the base model. The sampled ids and their log-probs come back as they are.
/// <see cref="LoadWeightsAsync"/> takes the tinker:// path save_weights_for_sampler answered.
/// </summary>
public sealed class TinkerSampler(TinkerClient client, string baseModel, int vocabSize, int concurrency = 64) : ITokenSampler, IDisposable
{
    public string Name => $"tinker:{client.BaseUrl}";
    public bool InProcess => false;
    /// <summary>The tinker:// path sampled from; null = the base model.</summary>
    public string? ModelPath { get; private set; }

    public async Task<IReadOnlyList<Generation>> SampleAsync(IReadOnlyList<SampleRequest> requests, SamplingOptions options,
        CancellationToken cancellationToken)
    {
        options.Validate();
        // Submit everything first so the service sees the whole batch in flight, then collect in order.
        var submitted = new List<Task<string>>();
        using var gate = new SemaphoreSlim(concurrency);
        foreach (SampleRequest r in requests)
            submitted.Add(SubmitAsync(r, options, gate, cancellationToken));
        var results = new Generation[requests.Count];
        for (int i = 0; i < results.Length; i++)
        {
            JsonNode answer = await client.RetrieveAsync(await submitted[i], "asample", cancellationToken);
            var sequence = (answer["sequences"] as JsonArray)?.FirstOrDefault()
                ?? throw new InferenceServerException($"{Name} asample answered no sequences");
            var ids = (sequence["tokens"] as JsonArray ?? []).Select(t => t!.GetValue<int>()).ToList();
            var lp = (sequence["logprobs"] as JsonArray ?? throw new InferenceServerException($"{Name} asample answered no logprobs"))
                .Select(l => l?.GetValue<double>() ?? double.NaN).ToList();
            results[i] = RemoteGeneration.Build(Name, ids, lp, sequence["stop_reason"]?.ToString(), options, vocabSize);
        }
        return results;
    }

    async Task<string> SubmitAsync(SampleRequest request, SamplingOptions options, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var body = new JsonObject
            {
                ["prompt"] = TinkerLearner.ModelInput(request.Prompt),
                ["num_samples"] = 1,
                ["sampling_params"] = new JsonObject
                {
                    ["max_tokens"] = options.MaxTokens,
                    ["seed"] = request.Seed,
                    ["temperature"] = options.Temperature,
                    ["top_p"] = options.TopP,
                    ["top_k"] = options.TopK > 0 ? options.TopK : -1,
                    ["stop"] = options.StopStrings.Count > 0
                        ? new JsonArray(options.StopStrings.Select(s => (JsonNode)s).ToArray())
                        : new JsonArray(options.StopTokenIds.Select(id => (JsonNode)id).ToArray()),
                },
                ["type"] = "sample",
            };
            if (ModelPath is null) body["base_model"] = baseModel;
            else body["model_path"] = ModelPath;
            return await client.SubmitAsync("api/v1/asample", body, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    public Task LoadWeightsAsync(string directory, long version, CancellationToken cancellationToken)
    {
        ModelPath = directory;
        return Task.CompletedTask;
    }

    public void Dispose() => client.Dispose();
}
