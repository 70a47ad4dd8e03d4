using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rlef.Sandbox;
using Rlef.Serving.Hosting;
using Rlef.Serving.Sandbox;

namespace Rlef.Serving.Tests.Sandbox;

/// <summary>`/run_tests`, bad input on every endpoint, caps, metrics: on one service, which must keep serving.</summary>
public sealed class SandboxServiceTests : IAsyncLifetime
{
    private LocalSandboxServer _server = null!;

    public async Task InitializeAsync() => _server = await LocalSandboxServer.StartAsync(new SandboxServerOptions
    {
        Pool = new SandboxOptions { Workers = 2, JobsPerWorker = 50 },
        MaxTests = 50,
        MaxLimits = new SandboxServerOptions().MaxLimits with { CpuTimeSeconds = 2, WallTimeSeconds = 2, MemoryMb = 512 },
    }, new ServerOptions { MaxBodyBytes = 64 << 10 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, string Body)> Post(string path, string body)
    {
        using var r = await _server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    private async Task AssertStillServes()
    {
        var (status, body) = await Post("run_code", """{"code": "print(6 * 7)", "language": "python"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("42\n", (string?)JsonNode.Parse(body)!["run_result"]!["stdout"]);
    }

    [Fact]
    public async Task Run_tests_gives_the_same_verdicts_as_the_pool_in_process()
    {
        var request = new ExecutionRequest
        {
            Code = "def add(a, b):\n    return a + b\nif __name__ == '__main__':\n    a, b = map(int, input().split())\n    print(add(a, b))\n",
            Tests =
            [
                TestCase.Stdio("1 2\n", "3"), TestCase.Stdio("1 2\n", "4"), TestCase.Stdio("x\n", "1"),
                TestCase.Call("add", "[1, 2]", "3"), TestCase.Call("add", "[0.1, 0.2]", "0.3", atol: 1e-6), TestCase.Assert("assert add(2, 2) == 5"),
            ],
        };
        await using var remote = new RemoteSandboxExecutor([_server.BaseAddress]);
        var viaHttp = await remote.RunAsync(request);
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1 });
        var inProcess = await pool.RunAsync(request);
        Assert.Equal(inProcess.Results.Select(r => r.Verdict), viaHttp.Results.Select(r => r.Verdict));
        Assert.Equal([Verdict.Passed, Verdict.WrongAnswer, Verdict.RuntimeError, Verdict.Passed, Verdict.Passed, Verdict.WrongAnswer], viaHttp.Results.Select(r => r.Verdict));
        Assert.Equal("4", viaHttp.Results[1].Expected);
        Assert.Equal("3\n", viaHttp.Results[1].Actual);
        Assert.Contains("ValueError", viaHttp.Results[2].Error);
        Assert.Equal(1, viaHttp.Results[2].ExitCode);

        var stopping = await remote.RunAsync(request with { StopAtFirstFailure = true });
        Assert.Equal([Verdict.Passed, Verdict.WrongAnswer], stopping.Results.Select(r => r.Verdict));
    }

    [Fact]
    public async Task Requested_limits_are_lowered_to_the_server_maxima_and_absurd_ones_refused()
    {
        // Asks 100 s; the server allows 2 s: the spin ends in a timeout after about 2 s, not 100.
        var started = System.Diagnostics.Stopwatch.StartNew();
        var (status, body) = await Post("run_code", """{"code": "while True: pass", "language": "python", "run_timeout": 100}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("TimeLimitExceeded", (string?)JsonNode.Parse(body)!["run_result"]!["status"]);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"took {started.Elapsed}");

        foreach (string bad in new[]
        {
            """{"code": "1", "language": "python", "run_timeout": -1}""",
            """{"code": "1", "language": "python", "run_timeout": 0}""",
            """{"code": "1", "language": "python", "run_timeout": 1e300}""",
            """{"code": "1", "language": "python", "memory_limit_MB": -7}""",
            """{"code": "1", "language": "python", "memory_limit_MB": 99999999999}""",
            """{"code": "1", "language": "python", "memory_limit_MB": 1.5}""",
            """{"code": "1", "tests": [{"kind": "stdio"}], "limits": {"wall_time_s": -2}}""",
            """{"code": "1", "tests": [{"kind": "stdio"}], "limits": {"memory_mb": 1e12}}""",
        })
        {
            string path = bad.Contains("\"tests\"") ? "run_tests" : "run_code";
            var (s, b) = await Post(path, bad);
            Assert.True(s == HttpStatusCode.UnprocessableEntity, $"{bad} -> {(int)s} {b}");
            Assert.StartsWith("{\"detail\":[{\"type\":\"value_error\",\"loc\":[\"body\",", b);
        }
        await AssertStillServes();
    }

    [Theory]
    [InlineData("run_code", "{\"code\": \"print(1)\", \"language\": \"python\"", "json_invalid")]
    [InlineData("run_code", "not json at all", "json_invalid")]
    [InlineData("run_code", "", "json_invalid")]
    [InlineData("run_code", "null", "json_invalid")]
    [InlineData("run_code", "[1, 2]", "body")]
    [InlineData("run_code", "{\"language\": \"python\"}", "\"code\"")]
    [InlineData("run_code", "{\"code\": \"print(1)\"}", "\"language\"")]
    [InlineData("run_code", "{\"code\": 5, \"language\": \"python\"}", "\"code\"")]
    [InlineData("run_code", "{\"code\": \"1\", \"language\": \"python\", \"stdin\": 3}", "\"stdin\"")]
    [InlineData("run_code", "{\"code\": \"1\", \"language\": \"python\", \"files\": {\"../x\": \"aA==\"}}", "\"files\"")]
    [InlineData("run_code", "{\"code\": \"1\", \"language\": \"python\", \"files\": {\"a\": \"not base64!\"}}", "\"files\"")]
    [InlineData("run_code", "{\"code\": \"1\", \"language\": \"python\", \"fetch_files\": [\"/etc/passwd\"]}", "\"fetch_files\"")]
    [InlineData("run_tests", "{\"code\": \"1\"}", "\"tests\"")]
    [InlineData("run_tests", "{\"code\": \"1\", \"tests\": []}", "\"tests\"")]
    [InlineData("run_tests", "{\"code\": \"1\", \"tests\": [{\"kind\": \"telepathy\"}]}", "\"kind\"")]
    [InlineData("run_tests", "{\"code\": \"1\", \"tests\": [{\"kind\": \"call\", \"arguments_json\": \"[]\"}]}", "\"entry_point\"")]
    [InlineData("run_tests", "{\"code\": \"1\", \"tests\": [{\"kind\": \"call\", \"entry_point\": \"f\", \"arguments_json\": \"[]\", \"expected_value\": \"<<<\"}]}", "value encoding")]
    [InlineData("run_tests", "{\"code\": \"1\", \"tests\": [{\"kind\": \"stdio\"}], \"comparison\": \"vibes\"}", "\"comparison\"")]
    public async Task Malformed_requests_get_422_naming_the_field_and_the_service_keeps_serving(string path, string body, string named)
    {
        var (status, answer) = await Post(path, body);
        Assert.True(status == HttpStatusCode.UnprocessableEntity, $"{body} -> {(int)status} {answer}");
        Assert.Contains(named, answer);
        Assert.NotNull(JsonNode.Parse(answer)!["detail"]);
        await AssertStillServes();
    }

    [Fact]
    public async Task Too_many_tests_and_too_large_bodies_are_refused()
    {
        string tests = string.Join(", ", Enumerable.Repeat("{\"kind\": \"stdio\"}", 51));
        var (status, body) = await Post("run_tests", $"{{\"code\": \"print(1)\", \"tests\": [{tests}]}}");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("at most 50", body);

        // 100 KB over a 64 KB cap (drained, then 413); 10 MB is refused unread.
        foreach (int size in new[] { 100 << 10, 10 << 20 })
        {
            string code = "print(1)#" + new string('x', size);
            try
            {
                var (s, b) = await Post("run_code", $"{{\"code\": \"{code}\", \"language\": \"python\"}}");
                Assert.True(s == HttpStatusCode.RequestEntityTooLarge, $"{size} bytes -> {(int)s} {b}");
                Assert.Contains("larger than the limit", b);
            }
            catch (HttpRequestException) when (size > 4 * (64 << 10))
            {
                // Far over the cap the server answers 413 and closes without reading; the client may see the reset first.
            }
        }
        await AssertStillServes();
    }

    [Fact]
    public async Task Unknown_languages_get_400_naming_the_supported_ones()
    {
        foreach (string language in new[] { "cpp", "python3", "brainfuck", "" })
        {
            var (status, body) = await Post("run_code", $"{{\"code\": \"1\", \"language\": \"{language}\"}}");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal($"{{\"detail\":\"language '{language}' is not supported by this sandbox; supported: python\"}}", body);
        }
        await AssertStillServes();
    }

    [Fact]
    public async Task Ping_health_and_metrics()
    {
        Assert.Equal("\"pong\"", await _server.Client.GetStringAsync("v1/ping"));
        var health = JsonNode.Parse(await _server.Client.GetStringAsync("health"))!;
        Assert.Equal("ok", (string?)health["status"]);
        Assert.Equal(2, (int?)health["workers"]);
        await Post("run_code", """{"code": "1/0", "language": "python"}""");
        await Post("run_tests", """{"code": "print(2)", "tests": [{"kind": "stdio", "expected_output": "2"}]}""");
        string metrics = await _server.Client.GetStringAsync("metrics");
        Assert.Matches("rlef_sandbox_verdicts_total\\{endpoint=\"run_code\",verdict=\"runtime_error\"\\} [1-9]", metrics);
        Assert.Matches("rlef_sandbox_verdicts_total\\{endpoint=\"run_tests\",verdict=\"passed\"\\} [1-9]", metrics);
        foreach (string name in new[] { "rlef_sandbox_jobs_queue_length", "rlef_sandbox_worker_recycles_total", "rlef_sandbox_test_seconds_bucket",
                     "rlef_sandbox_http_requests_total{route=\"/run_code\",code=\"200\"}", "rlef_sandbox_http_request_duration_seconds_bucket" })
            Assert.Contains(name, metrics);
    }
}
