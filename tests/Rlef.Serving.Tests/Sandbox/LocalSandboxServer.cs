using Rlef.Sandbox;
using Rlef.Serving.Hosting;
using Rlef.Serving.Sandbox;

namespace Rlef.Serving.Tests.Sandbox;

/// <summary>A real `rlef serve sandbox` service inside the test process, on 127.0.0.1 and a port the system picks.</summary>
public sealed class LocalSandboxServer : IAsyncDisposable
{
    private LocalSandboxServer(SandboxService service, HttpClient client)
    {
        Service = service;
        Client = client;
    }

    public SandboxService Service { get; }
    public HttpClient Client { get; }
    public Uri BaseAddress => Service.Host.BaseAddress!;

    public static async Task<LocalSandboxServer> StartAsync(SandboxServerOptions? options = null, ServerOptions? server = null)
    {
        options ??= new SandboxServerOptions { Pool = new SandboxOptions { Workers = 2, JobsPerWorker = 50 } };
        var service = SandboxService.Create((server ?? new ServerOptions()) with { Listen = ListenAddress.Loopback(0) }, options);
        await service.StartAsync(announce: null);
        return new LocalSandboxServer(service, new HttpClient { BaseAddress = service.Host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) });
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Service.Host.StopAsync();
        await Service.DisposeAsync();
    }
}
