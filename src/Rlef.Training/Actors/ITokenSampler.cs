using Rlef.Engine.Sampling;

namespace Rlef.Training.Actors;

/// <summary>One sequence to continue: the exact token ids so far, the seed of its own random stream and, when drawn per
/// reply (the paper's SFT data), its own temperature (in-process sampler only).</summary>
public sealed record SampleRequest(IReadOnlyList<int> Prompt, int Seed, float? Temperature = null);

/// <summary>
/// Token ids in, token ids and behaviour log-probs out: the one operation an actor needs from a model, whether the
/// model runs in this process (<see cref="EngineSampler"/>) or behind an inference server (<see cref="VllmSampler"/>,
/// <see cref="SglangSampler"/>). Nothing is re-tokenised: the caller keeps the exact ids of every turn
/// (docs/inference-servers.md).
/// </summary>
public interface ITokenSampler
{
    /// <summary>Names the sampler in errors and metrics, e.g. "vllm:http://h:8000".</summary>
    string Name { get; }

    /// <summary>True when sampling blocks this process's CPU (batches are then sampled one after the other).</summary>
    bool InProcess { get; }

    /// <summary>
    /// Continues every request with the same options; result i belongs to request i. Log-probs are those of the
    /// sampled tokens under the untruncated temperature-1 distribution (<see cref="Generation"/>).
    /// </summary>
    Task<IReadOnlyList<Generation>> SampleAsync(IReadOnlyList<SampleRequest> requests, SamplingOptions options,
        CancellationToken cancellationToken);

    /// <summary>
    /// Makes the sampler use the weights published in <paramref name="directory"/> (a Hugging Face layout:
    /// model.safetensors beside config.json) as policy version <paramref name="version"/>.
    /// </summary>
    Task LoadWeightsAsync(string directory, long version, CancellationToken cancellationToken);
}
