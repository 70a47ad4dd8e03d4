using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Rlef.Serving.Hosting;

namespace Rlef.Serving.Tests.Hosting;

/// <summary>The shared hosting pieces, on a real Kestrel on 127.0.0.1 with a port the system picks.</summary>
public sealed class HostingTests
{
    private static async Task<(ServiceHost Host, HttpClient Client)> StartAsync(ServerOptions options, Action<ServiceHost>? map = null)
    {
        var host = ServiceHost.Create(options with { Listen = ListenAddress.Loopback(0) });
        map?.Invoke(host);
        await host.StartAsync(announce: null);
        return (host, new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) });
    }

    [Theory]
    [InlineData("127.0.0.1:8080", true)]
    [InlineData("localhost:1", true)]
    [InlineData("[::1]:9000", true)]
    [InlineData("0.0.0.0:8080", false)]
    [InlineData("10.1.2.3:80", false)]
    public void Listen_addresses_parse_and_know_whether_they_are_loopback(string text, bool loopback)
    {
        Assert.Equal(loopback, ListenAddress.Parse(text).IsLoopback);
    }

    [Theory]
    [InlineData("8080")]
    [InlineData("127.0.0.1:")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("example.com:80")]
    public void Bad_listen_addresses_are_refused_with_the_text_in_the_message(string text)
    {
        var e = Assert.Throws<FormatException>(() => ListenAddress.Parse(text));
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void A_non_loopback_address_needs_a_token_or_insecure()
    {
        var open = new ServerOptions { Listen = ListenAddress.Parse("0.0.0.0:8080") };
        Assert.Contains("--token", open.CheckSecurity());
        Assert.Null((open with { Token = "0123456789abcdef0123" }).CheckSecurity());
        Assert.Null((open with { Insecure = true }).CheckSecurity());
        Assert.Contains("16 characters", (open with { Token = "short" }).CheckSecurity());
        Assert.Null(new ServerOptions().CheckSecurity());
        Assert.Throws<ArgumentException>(() => ServiceHost.Create(open));
    }

    [Fact]
    public async Task Token_is_required_except_on_health()
    {
        var (host, client) = await StartAsync(new ServerOptions { Token = "0123456789abcdef0123" },
            h => h.App.MapGet("/hello", () => "hi"));
        await using (host)
        {
            var refused = await client.GetAsync("/hello");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Contains("bearer token", await refused.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
            var wrong = new HttpRequestMessage(HttpMethod.Get, "/hello") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "0123456789abcdef0124") } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrong)).StatusCode);
            var right = new HttpRequestMessage(HttpMethod.Get, "/hello") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "0123456789abcdef0123") } };
            var ok = await client.SendAsync(right);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("hi", await ok.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Bodies_over_the_cap_get_413_in_the_configured_shape_declared_or_chunked()
    {
        var (host, client) = await StartAsync(new ServerOptions { MaxBodyBytes = 1000, ErrorShape = ErrorResponses.FastApiShape },
            h => h.App.MapPost("/echo", async (HttpContext c) =>
            {
                using var r = new StreamReader(c.Request.Body);
                await c.Response.WriteAsync((await r.ReadToEndAsync()).Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }));
        await using (host)
        {
            Assert.Equal("999", await (await client.PostAsync("/echo", new StringContent(new string('x', 999)))).Content.ReadAsStringAsync());
            var declared = await client.PostAsync("/echo", new StringContent(new string('x', 5000)));
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declared.StatusCode);
            Assert.StartsWith("{\"detail\":", await declared.Content.ReadAsStringAsync());
            // No Content-Length: Kestrel stops reading at the cap, answers 413 and closes the connection, which can
            // break the client's pipe while it still writes the rest of the body (then no response reaches it, and
            // the server may count the aborted request under another code). Either way the body is never accepted:
            // a response that arrives is a 413, and /echo answers 200 only for the 999-byte body above.
            var chunked = new StreamContent(new MemoryStream(new byte[5000]));
            try
            {
                var streamed = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/echo") { Content = chunked, Headers = { TransferEncodingChunked = true } });
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
            }
            catch (HttpRequestException)
            {
            }
            // The count is written as a request ends, which can be just after its response reached the client.
            string echoedOnce = "route=\"/echo\",code=\"200\"} 1";
            for (int i = 0; i < 50 && !host.Metrics.Render().Contains(echoedOnce, StringComparison.Ordinal); i++)
                await Task.Delay(100);
            Assert.Contains(echoedOnce + "\n", host.Metrics.Render());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        }
    }

    [Fact]
    public async Task A_full_gate_answers_429_with_retry_after_and_lets_the_admitted_requests_finish()
    {
        var release = new TaskCompletionSource();
        int entered = 0;
        WorkGate? gate = null;
        var (host, client) = await StartAsync(new ServerOptions(), h =>
        {
            gate = h.AddGate("jobs", concurrency: 1, queueCapacity: 1, TimeSpan.FromSeconds(20));
            h.App.MapPost("/slow", async () => { Interlocked.Increment(ref entered); await release.Task; return "done"; }).RequireWorkGate(gate);
        });
        await using (host)
        {
            var first = client.PostAsync("/slow", null);
            var second = client.PostAsync("/slow", null);
            for (int i = 0; i < 200 && (gate!.Running < 1 || gate.Queued < 1); i++)
                await Task.Delay(25);
            Assert.Equal((1, 1), (gate!.Running, gate.Queued));
            var third = await client.PostAsync("/slow", null);
            Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), third.Headers.RetryAfter?.Delta);
            release.SetResult();
            Assert.Equal("done", await (await first).Content.ReadAsStringAsync());
            Assert.Equal("done", await (await second).Content.ReadAsStringAsync());
            Assert.Equal(2, entered);
            string metrics = await client.GetStringAsync("/metrics");
            Assert.Contains("rlef_jobs_refused_429_total 1\n", metrics);
            Assert.Contains("rlef_http_requests_total{route=\"/slow\",code=\"429\"} 1\n", metrics);
            Assert.Contains("# TYPE rlef_http_request_duration_seconds histogram", metrics);
        }
    }

    [Fact]
    public async Task Shutdown_finishes_in_flight_requests_and_refuses_new_work_with_503()
    {
        var release = new TaskCompletionSource();
        WorkGate? gate = null;
        var (host, client) = await StartAsync(new ServerOptions { ShutdownTimeout = TimeSpan.FromSeconds(20) }, h =>
        {
            gate = h.AddGate("jobs", concurrency: 1, queueCapacity: 4, TimeSpan.FromSeconds(20));
            h.App.MapPost("/slow", async () => { await release.Task; return "done"; }).RequireWorkGate(gate);
        });
        await using (host)
        {
            var inFlight = client.PostAsync("/slow", null);
            for (int i = 0; i < 200 && gate!.Running < 1; i++)
                await Task.Delay(25);
            Task stopping = host.StopAsync();
            for (int i = 0; i < 200 && !gate!.Draining; i++)
                await Task.Delay(25);
            Assert.True(gate!.Draining);
            Assert.False(stopping.IsCompleted);  // waits for the request in flight
            release.SetResult();
            var response = await inFlight;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("done", await response.Content.ReadAsStringAsync());
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));
            var (lease, status, _) = await gate.EnterAsync(CancellationToken.None);
            Assert.Null(lease);
            Assert.Equal(503, status);
        }
    }

    [Fact]
    public void Metrics_render_in_the_prometheus_text_format()
    {
        var m = new MetricsRegistry();
        var c = m.Counter("x_total", "Things.\nTwo lines.", "kind");
        c.Inc("a\"b");
        c.Add(2, "a\"b");
        var g = m.Gauge("y", "A gauge.");
        g.Set(3.5);
        var h = m.Histogram("z_seconds", "Latency.", [0.1, 1], "route");
        h.Observe(0.05, "/r");
        h.Observe(0.1, "/r");
        h.Observe(7, "/r");
        string text = m.Render();
        Assert.Equal(
            "# HELP x_total Things.\\nTwo lines.\n# TYPE x_total counter\nx_total{kind=\"a\\\"b\"} 3\n" +
            "# HELP y A gauge.\n# TYPE y gauge\ny 3.5\n" +
            "# HELP z_seconds Latency.\n# TYPE z_seconds histogram\n" +
            "z_seconds_bucket{route=\"/r\",le=\"0.1\"} 2\nz_seconds_bucket{route=\"/r\",le=\"1\"} 2\nz_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3\n" +
            "z_seconds_sum{route=\"/r\"} 7.15\nz_seconds_count{route=\"/r\"} 3\n", text);
        Assert.Throws<ArgumentException>(() => m.Counter("x_total", "again"));
        Assert.Throws<ArgumentException>(() => c.Inc());
        Assert.Throws<ArgumentException>(() => m.Gauge("bad-name", "no"));
    }
}
