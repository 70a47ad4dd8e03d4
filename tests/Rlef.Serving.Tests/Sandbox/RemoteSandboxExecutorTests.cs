using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rlef.Sandbox;
using Rlef.Serving.Hosting;

namespace Rlef.Serving.Tests.Sandbox;

/// <summary>What the remote executor retries (only what says nothing about the program) and what it never does.</summary>
public sealed class RemoteSandboxExecutorTests
{
    private static readonly ExecutionRequest TwoTests = new()
    {
        Code = "print(int(input()) + 1)",
        Tests = [TestCase.Stdio("1", "2"), TestCase.Stdio("1", "3")],
    };

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A server that answers /run_tests with the given replies in turn (a fault injector for the client).</summary>
    private static async Task<(ServiceHost Host, Func<int> Calls)> Scripted(params Func<HttpContext, Task>[] replies)
    {
        var host = ServiceHost.Create(new ServerOptions { Listen = ListenAddress.Loopback(0) });
        int calls = 0;
        host.App.MapPost("/run_tests", (HttpContext c) => replies[Math.Min(Interlocked.Increment(ref calls) - 1, replies.Length - 1)](c));
        await host.StartAsync(null);
        return (host, () => Volatile.Read(ref calls));
    }

    private static Func<HttpContext, Task> Report(params (string Verdict, string? Error)[] results) => c =>
        c.Response.WriteAsync(new JsonObject
        {
            ["results"] = new JsonArray([.. results.Select(r => (JsonNode)new JsonObject { ["verdict"] = r.Verdict, ["error"] = r.Error })]),
        }.ToJsonString());

    private static Func<HttpContext, Task> Status(int code) => c =>
    {
        c.Response.StatusCode = code;
        c.Response.Headers.RetryAfter = "0";
        return c.Response.WriteAsync("{\"detail\": \"busy\"}");
    };

    private static readonly RemoteSandboxOptions Fast = new() { InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(5) };

    [Fact]
    public async Task A_dead_server_in_the_list_costs_retries_not_results()
    {
        await using var live = await LocalSandboxServer.StartAsync();
        await using var remote = new RemoteSandboxExecutor([new Uri($"http://127.0.0.1:{FreePort()}/"), live.BaseAddress], Fast);
        for (int i = 0; i < 6; i++)
            Assert.Equal([Verdict.Passed, Verdict.WrongAnswer], (await remote.RunAsync(TwoTests)).Results.Select(r => r.Verdict));
        Assert.InRange(remote.Retries, 1, 6);  // about every other request first went to the dead one
    }

    [Fact]
    public async Task Busy_and_failing_servers_are_retried_and_a_verdict_is_kept_as_it_came()
    {
        var (host, calls) = await Scripted(Status(429), Status(503), Status(500), Report(("passed", null), ("wrong_answer", null)));
        await using (host)
        await using (var remote = new RemoteSandboxExecutor([host.BaseAddress!], Fast))
        {
            var report = await remote.RunAsync(TwoTests);
            Assert.Equal([Verdict.Passed, Verdict.WrongAnswer], report.Results.Select(r => r.Verdict));
            Assert.Equal(4, calls());
            // The wrong answer was an answer: asking again must not happen.
            await remote.RunAsync(TwoTests);
            Assert.Equal(5, calls());
        }
    }

    [Fact]
    public async Task Infra_errors_are_retried_from_the_failed_test_on_keeping_the_verdicts_before_it()
    {
        var requests = new List<int>();
        var (host, calls) = await Scripted(
            c => { requests.Add(TestsIn(c)); return Report(("wrong_answer", null), ("infra_error", "worker died"))(c); },
            c => { requests.Add(TestsIn(c)); return Report(("passed", null))(c); });
        await using (host)
        await using (var remote = new RemoteSandboxExecutor([host.BaseAddress!], Fast))
        {
            var report = await remote.RunAsync(TwoTests);
            Assert.Equal([Verdict.WrongAnswer, Verdict.Passed], report.Results.Select(r => r.Verdict));
            Assert.Equal([2, 1], requests);  // the second attempt carried only the test that had no verdict
        }
    }

    private static int TestsIn(HttpContext c)
    {
        using var reader = new StreamReader(c.Request.Body);
        return JsonNode.Parse(reader.ReadToEndAsync().GetAwaiter().GetResult())!["tests"]!.AsArray().Count;
    }

    [Fact]
    public async Task Infrastructure_errors_that_persist_throw_instead_of_being_scored()
    {
        var (host, calls) = await Scripted(Report(("infra_error", "worker died"), ("infra_error", "worker died")));
        await using (host)
        await using (var remote = new RemoteSandboxExecutor([host.BaseAddress!], Fast with { MaxAttempts = 3 }))
        {
            var e = await Assert.ThrowsAsync<SandboxUnavailableException>(() => remote.RunAsync(TwoTests));
            Assert.Contains("worker died", e.Message);
            Assert.Equal(3, calls());
        }
        await using var nowhere = new RemoteSandboxExecutor([new Uri($"http://127.0.0.1:{FreePort()}/")], Fast with { MaxAttempts = 2 });
        Assert.Contains("connection failed", (await Assert.ThrowsAsync<SandboxUnavailableException>(() => nowhere.RunAsync(TwoTests))).Message);
    }

    [Fact]
    public async Task A_refused_request_is_not_retried()
    {
        var (host, calls) = await Scripted(Status(422));
        await using (host)
        await using (var remote = new RemoteSandboxExecutor([host.BaseAddress!], Fast))
        {
            await Assert.ThrowsAsync<ArgumentException>(() => remote.RunAsync(TwoTests));
            Assert.Equal(1, calls());
        }
    }

    [Fact]
    public void Server_lists_parse_and_bad_ones_are_named()
    {
        Assert.Equal(2, RemoteSandboxExecutor.ParseServers("http://a:1, http://b:2/").Count);
        Assert.Contains("ftp://x", Assert.Throws<FormatException>(() => RemoteSandboxExecutor.ParseServers("http://a:1,ftp://x")).Message);
        Assert.Throws<FormatException>(() => RemoteSandboxExecutor.ParseServers(" , "));
    }
}
