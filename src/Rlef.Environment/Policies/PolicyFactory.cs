namespace Rlef.Environment.Policies;

/// <summary>Builds a policy from its command-line spec: `openai:URL#MODEL` or `replay:FILE`.</summary>
public static class PolicyFactory
{
    public static IPolicy Create(string spec, Func<Uri, string, OpenAiOptions> openAiOptions)
    {
        int colon = spec.IndexOf(':');
        string kind = colon < 0 ? spec : spec[..colon];
        string rest = colon < 0 ? "" : spec[(colon + 1)..];
        return kind switch
        {
            "openai" => CreateOpenAi(rest, openAiOptions),
            "replay" => rest.Length > 0 ? new ReplayPolicy(rest) : throw new FormatException("expected replay:FILE"),
            _ => throw new FormatException($"unknown policy '{spec}' (expected openai:URL#MODEL or replay:FILE)"),
        };
    }

    private static OpenAiChatPolicy CreateOpenAi(string target, Func<Uri, string, OpenAiOptions> options)
    {
        var (url, model) = OpenAiChatPolicy.ParseTarget(target);
        return new OpenAiChatPolicy(options(url, model));
    }
}
