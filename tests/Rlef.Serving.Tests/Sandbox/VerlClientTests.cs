using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rlef.Sandbox;
using Rlef.Serving.Sandbox;

namespace Rlef.Serving.Tests.Sandbox;

/// <summary>
/// What verl's SandboxFusion reward client sends to `/run_code` and how it reads the answer, re-implemented from
/// volcengine/verl at commit b178a3cd56f58b2d502255daba591e92833930a7 (version 0.8.0.dev),
/// verl/utils/reward_score/sandbox_fusion/utils.py: `call_sandbox_api` (the payload and its retries) and
/// `_process_single_case` (the result codes: True pass, False wrong answer, -1 API or sandbox error, -2 runtime
/// error, -3 timeout, -4 compile error). docs/sandbox-service.md, "verl".
/// </summary>
internal static class VerlClient
{
    /// <summary>`call_sandbox_api`'s body: `json.dumps` of its dict, keys in its order, Python's separators and ASCII escapes.</summary>
    public static string Payload(string code, string? stdin, int compileTimeout, int runTimeout, int memoryLimitMb, string language) =>
        "{" + string.Join(", ",
            $"\"compile_timeout\": {compileTimeout}",
            $"\"run_timeout\": {runTimeout}",
            $"\"code\": {PyString(code)}",
            $"\"stdin\": {(stdin == null ? "null" : PyString(stdin))}",
            $"\"memory_limit_MB\": {memoryLimitMb}",
            $"\"language\": {PyString(language)}",
            "\"files\": {}",
            "\"fetch_files\": []") + "}";

    /// <summary>A string as Python's json.dumps writes it (ensure_ascii=True).</summary>
    private static string PyString(string s)
    {
        var b = new StringBuilder("\"");
        foreach (char c in s)
            b.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\b' => "\\b",
                '\f' => "\\f",
                _ when c < 0x20 || c > 0x7e => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        return b.Append('"').ToString();
    }

    /// <summary>
    /// `call_sandbox_api`: POST with Content-Type and Accept JSON; 504 is retried (up to 3 attempts); any other non-2xx
    /// is `raise_for_status` → an API error. Returns (response JSON, error message).
    /// </summary>
    public static async Task<(JsonNode? Response, string? Error)> CallAsync(HttpClient http, Uri url, string payload)
    {
        string? lastError = null;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
            message.Headers.Accept.ParseAdd("application/json");
            using var response = await http.SendAsync(message);
            if (response.StatusCode == HttpStatusCode.GatewayTimeout)
            {
                lastError = "Gateway Timeout (504)";
                continue;
            }
            if (!response.IsSuccessStatusCode)
                return (null, $"API Request Error: {(int)response.StatusCode}");
            return (JsonNode.Parse(await response.Content.ReadAsStringAsync()), null);
        }
        return (null, lastError);
    }

    /// <summary>`_process_single_case`'s reading of one answer: (result, status) with result true, false, -1, -2, -3 or -4.</summary>
    public static (object Result, string Status) Interpret(JsonNode? response, string? error, string? expectedOutput)
    {
        if (error != null)
            return (-1, "api_error");
        if (response == null)
            return (-1, "unknown_api_state");
        string? apiStatus = (string?)response["status"];
        var compile = response["compile_result"] as JsonObject;
        var run = response["run_result"] as JsonObject;
        string? runStatus = (string?)run?["status"];
        switch (apiStatus)
        {
            case "SandboxError":
                return (-1, "sandbox_error");
            case "Failed":
                string? compileStatus = (string?)compile?["status"];
                bool compileError = compile != null && (compileStatus is "Error" or "TimeLimitExceeded" ||
                    (compileStatus == "Finished" && (int?)compile["return_code"] != 0));
                if (compileError)
                    return (-4, compileStatus == "TimeLimitExceeded" ? "compile_timeout" : "compile_error");
                if (run == null)
                    return (-1, "unknown_failure_state");
                if (runStatus == "TimeLimitExceeded")
                    return (-3, "timeout");
                if (runStatus == "Error" || (runStatus == "Finished" && (int?)run["return_code"] != 0))
                    return (-2, "runtime_error");
                return (-1, "unknown_failure");
            case "Success":
                if (run == null || runStatus != "Finished")
                    return (-1, "unexpected_success_state");
                string actual = (string?)run["stdout"] ?? "";
                return expectedOutput == null || actual.TrimEnd('\n') == expectedOutput.TrimEnd('\n') ? (true, "success") : (false, "wrong_answer");
            default:
                return (-1, $"unknown_api_status_{apiStatus}");
        }
    }
}

/// <summary>verl's client against `rlef serve sandbox`: each kind of program must get the result verl would give it on SandboxFusion.</summary>
public sealed class VerlClientTests : IAsyncLifetime
{
    private LocalSandboxServer _server = null!;

    public async Task InitializeAsync() => _server = await LocalSandboxServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(object Result, string Status, JsonNode? Response)> Score(string code, string? stdin, string? expected,
        int timeout = 10, int memoryMb = 1024, string language = "python")
    {
        // check_correctness: compile and run share `timeout`; verl's default memory limit is 1024 MB.
        string payload = VerlClient.Payload(code, stdin, timeout, timeout, memoryMb, language);
        var (response, error) = await VerlClient.CallAsync(_server.Client, new Uri(_server.BaseAddress, "run_code"), payload);
        var (result, status) = VerlClient.Interpret(response, error, expected);
        return (result, status, response);
    }

    public static TheoryData<string, string, string?, string?, int, object, string> Programs() => new()
    {
        // name, code, stdin, expected output, timeout, verl's result, verl's status
        { "ordinary", "print(int(input()) * 2)", "21\n", "42", 10, true, "success" },
        { "ordinary, no stdin (null)", "print('héllo ✓')", null, "héllo ✓", 10, true, "success" },
        { "ordinary, trailing newlines", "print(7)\nprint()", "", "7\n", 10, true, "success" },
        { "failing", "print(int(input()) * 2 + 1)", "21\n", "42", 10, false, "wrong_answer" },
        { "crashing: exception", "x = int(input())\nprint(1 // (x - x))", "3\n", "0", 10, -2, "runtime_error" },
        { "crashing: sys.exit(3)", "import sys\nprint('partial')\nsys.exit(3)", "", "partial", 10, -2, "runtime_error" },
        { "crashing: killed by a signal", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "", "", 10, -2, "runtime_error" },
        { "crashing: syntax error", "def f(:\n    pass", "", "", 10, -2, "runtime_error" },
        { "slow: CPU spin", "while True:\n    pass", "", "", 1, -3, "timeout" },
        { "slow: sleeps", "import time\ntime.sleep(30)\nprint(1)", "", "1", 1, -3, "timeout" },
        { "hostile: memory bomb", "x = []\nwhile True:\n    x.append(bytearray(1 << 24))", "", "", 10, -2, "runtime_error" },
        { "hostile: output flood", "while True:\n    print('x' * 10000)", "", "", 10, -2, "runtime_error" },
        { "hostile: reads host files", "print(open('/etc/passwd').read())", "", "root", 10, -2, "runtime_error" },
        { "hostile: kills everything it can", "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('survived')", "", "survived", 10, -2, "runtime_error" },
        { "hostile: network", "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    print('connected')\nexcept OSError:\n    print('blocked')", "", "blocked", 10, true, "success" },
        // check_correctness's assert_case shape: the generation, two newlines, the assert; stdin "", no expected output.
        { "assert case passes", "def f(x):\n    return 2 * x\n\n\nassert f(2) == 4", "", null, 10, true, "success" },
        { "assert case fails", "def f(x):\n    return 2 * x + 1\n\n\nassert f(2) == 4", "", null, 10, -2, "runtime_error" },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public async Task Verl_reads_each_answer_as_SandboxFusion_would_have_it(string name, string code, string? stdin, string? expected, int timeout, object result, string status)
    {
        var (got, gotStatus, response) = await Score(code, stdin, expected, timeout);
        Assert.True(Equals(result, got) && status == gotStatus, $"{name}: verl reads {got} ({gotStatus}), expected {result} ({status}); answer {response?.ToJsonString()}");
        Assert.Null(response?["compile_result"]);  // python: no compile step, as in SandboxFusion
        Assert.Equal("", (string?)response?["message"]);
    }

    [Fact]
    public async Task A_fork_bomb_is_a_runtime_error_or_a_timeout_never_a_pass_or_an_infrastructure_error()
    {
        var (got, status, response) = await Score("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", "", "", timeout: 2);
        Assert.True(Equals(got, -2) || Equals(got, -3), $"fork bomb read as {got} ({status}): {response?.ToJsonString()}");
        Assert.Equal(true, (await Score("print(1)", "", "1")).Result);  // and the service goes on
    }

    [Fact]
    public void A_sandbox_fault_is_read_as_a_sandbox_error_never_as_a_score()
    {
        // Real infrastructure faults are retried on fresh workers by the pool, so the answer is built from one.
        JsonObject answer = SandboxFusionProtocol.WriteResponse(new TestResult { Verdict = Verdict.InfraError, Error = "worker died" });
        Assert.Equal((-1, "sandbox_error"), ((int)VerlClient.Interpret(answer, null, "1").Result, VerlClient.Interpret(answer, null, "1").Status));
        Assert.Equal("worker died", (string?)answer["message"]);
    }

    [Fact]
    public async Task A_language_verl_accepts_but_we_do_not_run_is_an_API_error_not_a_score()
    {
        // "cpp" is in verl's SUPPORTED_LANGUAGES, so verl sends it; our 400 makes raise_for_status fail: -1, never a verdict.
        var (got, status, _) = await Score("int main() { return 0; }", "", "", language: "cpp");
        Assert.Equal((-1, "api_error"), ((int)got, status));
        using var raw = await _server.Client.PostAsync("run_code", new StringContent(VerlClient.Payload("1", "", 10, 10, 1024, "cpp"), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, raw.StatusCode);
        string body = await raw.Content.ReadAsStringAsync();
        Assert.Contains("'cpp' is not supported", body);
        Assert.Contains("supported: python", body);
    }

    [Fact]
    public async Task The_answer_has_SandboxFusions_fields_in_its_order()
    {
        var (_, _, response) = await Score("import sys\nprint('out')\nprint('err', file=sys.stderr)", "", "out");
        Assert.Equal(["status", "message", "compile_result", "run_result", "executor_pod_name", "files"], response!.AsObject().Select(p => p.Key));
        var run = response["run_result"]!.AsObject();
        Assert.Equal(["status", "execution_time", "return_code", "stdout", "stderr"], run.Select(p => p.Key));
        Assert.Equal("out\n", (string?)run["stdout"]);
        Assert.Equal("err\n", (string?)run["stderr"]);
        Assert.InRange((double)run["execution_time"]!, 0, 10);
    }

    [Fact]
    public async Task Files_go_in_and_come_back_base64()
    {
        string body = """{"code": "data = open('in/a.txt').read()\nopen('out.txt', 'w').write(data.upper())", "language": "python", "files": {"in/a.txt": "aGVsbG8=", "skip": null}, "fetch_files": ["out.txt", "missing.txt"]}""";
        using var r = await _server.Client.PostAsync("run_code", new StringContent(body, Encoding.UTF8, "application/json"));
        var answer = JsonNode.Parse(await r.Content.ReadAsStringAsync())!;
        Assert.Equal("Success", (string?)answer["status"]);
        Assert.Equal("""{"out.txt":"SEVMTE8="}""", answer["files"]!.ToJsonString());
    }
}
