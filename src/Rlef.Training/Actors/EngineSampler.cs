using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;

namespace Rlef.Training.Actors;

/// <summary>
/// The engine's batched <see cref="Generator"/> as a sampler: one call samples the whole batch, each sequence from
/// its own seeded stream, so a sequence's tokens do not depend on what else is in the batch. Not thread-safe: one
/// batch at a time (the generator keeps its KV cache between calls).
/// </summary>
/// <param name="generator">A generator of <paramref name="model"/> to reuse across samplers (its KV cache stays
/// allocated: a new one per collection churned hundreds of MB through the large-object heap); null makes a new one.</param>
public sealed class EngineSampler(LlamaModel model, string name = "embedded", Generator? generator = null) : ITokenSampler
{
    readonly Generator _generator = generator is null ? new(model)
        : generator.Model == model ? generator : throw new ArgumentException("the generator samples from another model", nameof(generator));

    public string Name => name;
    public bool InProcess => true;
    public LlamaModel Model => model;

    public Task<IReadOnlyList<Generation>> SampleAsync(IReadOnlyList<SampleRequest> requests, SamplingOptions options,
        CancellationToken cancellationToken) =>
        Task.FromResult(Sample(requests, options));

    /// <summary>The synchronous form (the in-process trainer calls it on its own loop).</summary>
    public IReadOnlyList<Generation> Sample(IReadOnlyList<SampleRequest> requests, SamplingOptions options) =>
        _generator.Generate(requests.Select(r => r.Prompt).ToList(), options, sequenceSeeds: requests.Select(r => r.Seed).ToList(),
            sequenceTemperatures: requests.Any(r => r.Temperature is not null)
                ? requests.Select(r => r.Temperature ?? options.Temperature).ToList() : null);

    public Task LoadWeightsAsync(string directory, long version, CancellationToken cancellationToken)
    {
        HfWeights.Load(directory, model.Parameters, allowMissingLmHead: model.Config.TieWordEmbeddings);
        return Task.CompletedTask;
    }
}
