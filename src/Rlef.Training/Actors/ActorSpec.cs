using Rlef.Training.Actors.Remote;

namespace Rlef.Training.Actors;

/// <summary>Where an actor samples: in this process, or on an inference server speaking a named protocol.</summary>
public enum ActorProtocol { Embedded, Vllm, Sglang, Rlef }

/// <summary>
/// One entry of <c>rollout.actors</c>: <c>embedded</c>, or <c>PROTOCOL:URL</c> with PROTOCOL one of
/// <c>vllm</c> (OpenAI-compatible /v1/completions; <c>vllm:URL#MODEL</c> names the served model),
/// <c>sglang</c> (native /generate) and <c>rlef</c> (`rlef serve model`, the SGLang protocol).
/// </summary>
public sealed record ActorSpec(ActorProtocol Protocol, Uri? BaseUrl, string? Model)
{
    public static readonly ActorSpec Embedded = new(ActorProtocol.Embedded, null, null);

    public static ActorSpec Parse(string text)
    {
        string s = text.Trim();
        if (s == "embedded") return Embedded;
        int colon = s.IndexOf(':');
        if (colon <= 0) throw new FormatException($"actor '{text}': expected embedded, vllm:URL, sglang:URL or rlef:URL");
        ActorProtocol protocol = s[..colon] switch
        {
            "vllm" => ActorProtocol.Vllm,
            "sglang" => ActorProtocol.Sglang,
            "rlef" => ActorProtocol.Rlef,
            var other => throw new FormatException($"actor '{text}': unknown protocol '{other}' (vllm, sglang, rlef or embedded)"),
        };
        string rest = s[(colon + 1)..];
        string? model = null;
        int hash = rest.LastIndexOf('#');
        if (hash >= 0) { model = rest[(hash + 1)..]; rest = rest[..hash]; }
        if (!Uri.TryCreate(rest, UriKind.Absolute, out Uri? url) || url.Scheme is not ("http" or "https"))
            throw new FormatException($"actor '{text}': '{rest}' is not an http(s) URL");
        // Accept the OpenAI-style base (…/v1) too: the samplers add their own paths.
        string trimmed = url.ToString().TrimEnd('/');
        if (trimmed.EndsWith("/v1", StringComparison.Ordinal)) url = new Uri(trimmed[..^3]);
        if (model is not null && protocol != ActorProtocol.Vllm)
            throw new FormatException($"actor '{text}': #MODEL is for vllm actors only");
        return new ActorSpec(protocol, url, string.IsNullOrEmpty(model) ? null : model);
    }

    /// <summary>Environment variable holding the bearer token sent to every remote actor (when set).</summary>
    public const string TokenVariable = "RLEF_ACTOR_TOKEN";

    /// <summary>A sampler for a remote actor (the embedded actor is built by the trainer from its own model).</summary>
    public ITokenSampler CreateRemote(int vocabSize, ServerCallOptions? options = null)
    {
        options ??= new ServerCallOptions { BearerToken = System.Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } t ? t : null };
        return Create(vocabSize, options);
    }

    ITokenSampler Create(int vocabSize, ServerCallOptions options) => Protocol switch
    {
        ActorProtocol.Vllm => new VllmSampler(BaseUrl!, Model, vocabSize, options),
        ActorProtocol.Sglang => new SglangSampler(BaseUrl!, vocabSize, options),
        ActorProtocol.Rlef => new SglangSampler(BaseUrl!, vocabSize, options, scheme: "rlef"),
        _ => throw new InvalidOperationException("the embedded actor has no server"),
    };

    public override string ToString() => Protocol == ActorProtocol.Embedded ? "embedded"
        : $"{Protocol.ToString().ToLowerInvariant()}:{BaseUrl}{(Model is null ? "" : "#" + Model)}";
}
