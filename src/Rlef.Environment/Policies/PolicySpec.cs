using Rlef.Environment.Problems;

namespace Rlef.Environment.Policies;

/// <summary>What kind of policy a spec names.</summary>
public enum PolicyKind
{
    /// <summary>`openai:URL#MODEL`: any OpenAI-compatible chat-completions server.</summary>
    OpenAi,
    /// <summary>`model:DIR`: the project's engine on a Hugging Face model directory, in this process.</summary>
    Model,
    /// <summary>`replay:FILE`: replies read from a JSONL file.</summary>
    Replay,
    /// <summary>`canonical`: the dataset's reference solutions.</summary>
    Canonical,
}

/// <summary>
/// A policy as the command line names it (`rlef eval --policy`): the one parser of `openai:URL#MODEL`, `model:DIR`,
/// `replay:FILE` and `canonical`, and the one place that turns a spec into a policy (<see cref="Create"/>).
/// </summary>
public sealed record PolicySpec(PolicyKind Kind, string Target)
{
    public const string Expected = "openai:URL#MODEL, model:DIR, replay:FILE or canonical";

    public static PolicySpec Parse(string spec)
    {
        if (spec == "canonical") return new PolicySpec(PolicyKind.Canonical, "");
        int colon = spec.IndexOf(':');
        string kind = colon < 0 ? spec : spec[..colon], target = colon < 0 ? "" : spec[(colon + 1)..];
        PolicyKind parsed = kind switch
        {
            "openai" => PolicyKind.OpenAi,
            "model" => PolicyKind.Model,
            "replay" => PolicyKind.Replay,
            _ => throw new FormatException($"unknown policy '{spec}' (expected {Expected})"),
        };
        if (target.Length == 0)
            throw new FormatException($"policy '{spec}': expected {(parsed switch { PolicyKind.OpenAi => "openai:URL#MODEL", PolicyKind.Model => "model:DIR", _ => "replay:FILE" })}");
        return new PolicySpec(parsed, target);
    }

    /// <summary>Whether the policy samples, so that temperature, top-p and seed apply to it.</summary>
    public bool Samples => Kind is PolicyKind.OpenAi or PolicyKind.Model;

    /// <summary>
    /// The policy this spec names. The environment cannot build the engine's model policy itself, so
    /// <paramref name="loadModel"/> does (from the directory); <paramref name="openAiOptions"/> completes the
    /// client's options from the URL and model; <paramref name="problems"/> give the canonical policy its solutions.
    /// </summary>
    public IPolicy Create(Func<Uri, string, OpenAiOptions> openAiOptions, Func<string, IPolicy> loadModel, IReadOnlyList<Problem> problems)
    {
        switch (Kind)
        {
            case PolicyKind.OpenAi:
                var (url, model) = OpenAiChatPolicy.ParseTarget(Target);
                return new OpenAiChatPolicy(openAiOptions(url, model));
            case PolicyKind.Model:
                return loadModel(Target);
            case PolicyKind.Replay:
                return new ReplayPolicy(Target);
            default:
                return new CanonicalPolicy(problems);
        }
    }
}
