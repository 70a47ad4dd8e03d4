using System.CommandLine;
using Rlef.Serving.Hosting;

namespace Rlef.Cli.Commands;

/// <summary>
/// The --listen, --token and --insecure options every `rlef serve` verb shares, turned into the
/// <see cref="ServerOptions"/> the listen/token policy of Rlef.Serving checks.
/// </summary>
public sealed class ServeOptions
{
    public Option<string> Listen { get; }
    public Option<string?> Token { get; }
    public Option<bool> Insecure { get; }

    public ServeOptions(string defaultListen, string tokenDescription,
        string listenDescription = "HOST:PORT to listen on (port 0: any free port, announced on stdout)",
        string insecureDescription = "Serve a non-loopback address without a token")
    {
        Listen = new Option<string>("--listen") { Description = listenDescription, DefaultValueFactory = _ => defaultListen };
        Token = new Option<string?>("--token") { Description = tokenDescription };
        Insecure = new Option<bool>("--insecure") { Description = insecureDescription };
    }

    /// <param name="serviceName">Name the server announces itself with; null keeps the hosting default.</param>
    /// <param name="tokenFallback">Token used when --token is not given (e.g. read from the environment).</param>
    public ServerOptions ToServerOptions(ParseResult parse, string? serviceName, long maxBodyBytes, string? tokenFallback = null)
    {
        var options = new ServerOptions
        {
            Listen = ListenAddress.Parse(parse.GetValue(Listen)!),
            Token = parse.GetValue(Token) ?? tokenFallback,
            Insecure = parse.GetValue(Insecure),
            MaxBodyBytes = maxBodyBytes,
        };
        return serviceName is null ? options : options with { ServiceName = serviceName };
    }

    /// <summary>
    /// Creates a server and runs it until cancelled. Bad options, an unreadable model and a taken port are user
    /// errors: one line on stderr, exit 2.
    /// </summary>
    public static async Task<int> RunAsync<TServer>(string verb, Func<TServer> create, Func<TServer, string> describe,
        Func<TServer, ServiceHost> host, CancellationToken cancellationToken) where TServer : IAsyncDisposable
    {
        TServer server;
        try
        {
            server = create();
        }
        catch (Exception e) when (e is ArgumentException or FormatException or IOException or InvalidDataException or NotSupportedException)
        {
            Console.Error.WriteLine($"{verb}: {e.Message}");
            return 2;
        }
        await using (server)
        {
            Console.Out.WriteLine($"{verb}: {describe(server)}");
            try
            {
                await host(server).RunAsync(Console.Out, cancellationToken);
            }
            catch (IOException e) // e.g. the port is taken
            {
                Console.Error.WriteLine($"{verb}: {e.Message}");
                return 2;
            }
        }
        return 0;
    }
}
