using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;

namespace Rlef.Serving.Model;

/// <summary>Caps of `rlef serve model` (every input has one).</summary>
public sealed record ModelServingLimits
{
    /// <summary>Longest prompt accepted, in tokens (default: the model's context length − 1).</summary>
    public int? MaxPromptTokens { get; init; }
    /// <summary>Largest max_tokens / max_new_tokens accepted.</summary>
    public int MaxNewTokens { get; init; } = 4096;
    /// <summary>Most sequences in one batched generation call.</summary>
    public int MaxBatch { get; init; } = 32;
    /// <summary>Most prompts in one request (a batch request; the scheduler still samples at most MaxBatch at once).</summary>
    public int MaxPromptsPerRequest { get; init; } = 256;
    /// <summary>Requests waiting beyond the running batch before 429.</summary>
    public int QueueCapacity { get; init; } = 256;
    /// <summary>How long a request may wait for a place before 503.</summary>
    public TimeSpan MaxQueueWait { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// The model behind `rlef serve model`: weights, tokenizer and chat format, the batching scheduler, and the checks
/// every protocol shares (caps on prompt and reply length, the model's context length).
/// </summary>
public sealed class ServedModel(string name, LlamaModel model, IChatFormat format, ModelServingLimits limits) : IAsyncDisposable
{
    public string Name => name;
    public IChatFormat Format => format;
    public ITokenizer Tokenizer => format.Tokenizer;
    public int VocabSize => model.Config.VocabSize;
    public int ContextLength => model.Config.MaxPositionEmbeddings;
    public ModelServingLimits Limits => limits;
    public GenerationScheduler Scheduler { get; } = new(model, format.Tokenizer, limits.MaxBatch);

    /// <summary>Ids that end a reply unless the request says ignore_eos: the model's and the tokenizer's end of text.</summary>
    public IReadOnlyList<int> EosIds { get; } = model.Config.EosTokenIds.Concat(format.Tokenizer.EosId is int e ? [e] : [])
        .Where(id => id < model.Config.VocabSize).Distinct().ToArray();

    /// <summary>Checks the prompt and the reply budget against the caps; the reply budget defaults to what fits.</summary>
    public int CheckLengths(int promptTokens, long? requestedMaxTokens, string maxTokensField)
    {
        int maxPrompt = limits.MaxPromptTokens ?? ContextLength - 1;
        if (promptTokens == 0) throw new BadRequestException("the prompt is empty");
        if (promptTokens > maxPrompt)
            throw new BadRequestException($"the prompt has {promptTokens} tokens; this server accepts at most {maxPrompt}");
        int room = ContextLength - promptTokens;
        long max = requestedMaxTokens ?? Math.Min(room, limits.MaxNewTokens);
        if (max < 1) throw new BadRequestException($"'{maxTokensField}' must be >= 1");
        if (max > limits.MaxNewTokens)
            throw new BadRequestException($"'{maxTokensField}' = {max} exceeds this server's cap of {limits.MaxNewTokens}");
        if (max > room)
            throw new BadRequestException($"this model's maximum context length is {ContextLength} tokens; the prompt has {promptTokens} and '{maxTokensField}' asks for {max}");
        return (int)max;
    }

    /// <summary>A random seed for requests that give none (as vLLM and SGLang draw one).</summary>
    public static int RandomSeed() => Random.Shared.Next();

    public Task<Generation> GenerateAsync(int[] prompt, SamplingOptions options, CancellationToken cancellationToken) =>
        Scheduler.SubmitAsync(prompt, options, cancellationToken);

    public ValueTask DisposeAsync() => Scheduler.DisposeAsync();
}
