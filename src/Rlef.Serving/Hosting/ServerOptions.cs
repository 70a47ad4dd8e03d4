namespace Rlef.Serving.Hosting;

/// <summary>What every service of the project configures the same way (see <see cref="ServiceHost"/>).</summary>
public sealed record ServerOptions
{
    /// <summary>Used in log lines and the startup announcement, e.g. "rlef serve sandbox".</summary>
    public string ServiceName { get; init; } = "rlef";

    public ListenAddress Listen { get; init; } = ListenAddress.Loopback(8080);

    /// <summary>Bearer token every request must carry (except <see cref="PublicPaths"/>); null = none.</summary>
    public string? Token { get; init; }

    /// <summary>A header that may carry the token itself instead of Authorization: Bearer (e.g. the Tinker SDK's X-API-Key); null = none.</summary>
    public string? ApiKeyHeader { get; init; }

    /// <summary>Explicit consent to serve a non-loopback address without a token.</summary>
    public bool Insecure { get; init; }

    /// <summary>Paths answered without a token: health probes of load balancers and orchestrators.</summary>
    public IReadOnlyList<string> PublicPaths { get; init; } = ["/health"];

    /// <summary>Largest request body accepted; larger ones get 413 before they are read.</summary>
    public long MaxBodyBytes { get; init; } = 8 << 20;

    /// <summary>How long shutdown waits for in-flight requests to finish before it abandons them.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How error bodies look in this service's protocol (default: <see cref="ErrorResponses.OpenAiShape"/>).</summary>
    public ErrorShape ErrorShape { get; init; } = ErrorResponses.OpenAiShape;

    /// <summary>Prefix of the built-in HTTP metrics, e.g. "rlef_sandbox" gives rlef_sandbox_http_requests_total.</summary>
    public string MetricsPrefix { get; init; } = "rlef";

    /// <summary>
    /// The listen/token policy: loopback needs nothing; any other address needs a token, or <see cref="Insecure"/>
    /// to say the operator knows. Returns null when the options are acceptable, else a one-line reason.
    /// </summary>
    public string? CheckSecurity()
    {
        if (Token is { Length: 0 })
            return "--token is empty";
        if (Token is { Length: < 16 })
            return "--token is shorter than 16 characters; use a random one (e.g. `openssl rand -hex 24`)";
        if (!Listen.IsLoopback && Token == null && !Insecure)
            return $"listening on {Listen} (not loopback) needs --token (clients send Authorization: Bearer TOKEN), or --insecure to serve it to anyone who can connect";
        if (MaxBodyBytes < 1)
            return $"the request body cap must be positive (got {MaxBodyBytes})";
        return null;
    }
}
