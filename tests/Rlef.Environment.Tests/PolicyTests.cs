using System.Text.Json.Nodes;
using Rlef.Environment.Policies;

namespace Rlef.Environment.Tests;

public sealed class PolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static OpenAiOptions Options(Uri url) => new()
    {
        BaseUrl = url, Model = "test-model", Temperature = 0.7, TopP = 0.9, MaxTokens = 123, MaxRetries = 3,
        InitialBackoff = TimeSpan.FromMilliseconds(10), ApiKeyVariable = "RLEF_TEST_KEY_THAT_IS_NOT_SET",
    };

    private static readonly Conversation Hello = new([ChatMessage.User("hello")]);
    private static readonly PolicyContext Turn0 = new("task", 0, 0, 3);

    [Fact]
    public async Task SendsTheConversationAndSamplingSettings()
    {
        using var server = new LocalChatServer(body => "echo: " + body["messages"]![0]!["content"]!.GetValue<string>());
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        var reply = await policy.ReplyAsync(Hello, Turn0, CancellationToken.None);
        Assert.Equal("echo: hello", reply.Text);
        Assert.Equal(7, reply.CompletionTokens);
        var request = server.Requests.Single();
        Assert.Equal("test-model", request["model"]!.GetValue<string>());
        Assert.Equal(0.7, request["temperature"]!.GetValue<double>());
        Assert.Equal(0.9, request["top_p"]!.GetValue<double>());
        Assert.Equal(123, request["max_tokens"]!.GetValue<int>());
        Assert.Null(request["continue_final_message"]);
        Assert.Null(server.AuthorizationHeaders.Single());
    }

    [Fact]
    public async Task A_temperature_range_sends_each_request_its_own_drawn_temperature_and_reports_it()
    {
        using var server = new LocalChatServer(_ => "ok");
        var range = new TemperatureRange(0.1, 1.0, Seed: 2);
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl) with { TemperatureRange = range });
        var contexts = Enumerable.Range(0, 3).Select(t => new PolicyContext("task", 0, t, 3)).ToList();
        foreach (PolicyContext context in contexts)
        {
            var reply = await policy.ReplyAsync(Hello, context, CancellationToken.None);
            Assert.Equal(range.Draw(context), reply.Temperature);
        }
        Assert.Equal(contexts.Select(range.Draw), server.Requests.Select(r => r["temperature"]!.GetValue<double>()));
        Assert.All(server.Requests, r => Assert.NotEqual(0.7, r["temperature"]!.GetValue<double>()));
    }

    [Fact]
    public async Task ContinuesThePrefilledAssistantTurn()
    {
        using var server = new LocalChatServer(_ => "    return a + b\n```");
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        var reply = await policy.ReplyAsync(new Conversation([ChatMessage.User("add")], "```python\ndef add(a, b):\n"), Turn0, CancellationToken.None);
        Assert.Equal("```python\ndef add(a, b):\n    return a + b\n```", reply.Text);
        var request = server.Requests.Single();
        var last = request["messages"]!.AsArray()[^1]!;
        Assert.Equal("assistant", last["role"]!.GetValue<string>());
        Assert.True(request["continue_final_message"]!.GetValue<bool>());
        Assert.False(request["add_generation_prompt"]!.GetValue<bool>());

        using var plain = new OpenAiChatPolicy(Options(server.BaseUrl) with { Prefill = false });
        var whole = await plain.ReplyAsync(new Conversation([ChatMessage.User("add")], "```python\ndef add(a, b):\n"), Turn0, CancellationToken.None);
        Assert.Equal("    return a + b\n```", whole.Text);
    }

    [Fact]
    public async Task RetriesTooManyRequestsAndServerErrorsThenSucceeds()
    {
        using var server = new LocalChatServer(_ => "ok") { Status = i => i switch { 0 => 429, 1 => 500, 2 => 503, _ => null } };
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        Assert.Equal("ok", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
        Assert.Equal(4, server.RequestCount);
    }

    [Fact]
    public async Task GivesUpAfterTheRetriesAndDoesNotRetryClientErrors()
    {
        using var server = new LocalChatServer(_ => "ok") { Status = _ => 500 };
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        var e = await Assert.ThrowsAsync<PolicyInfrastructureException>(() => policy.ReplyAsync(Hello, Turn0, CancellationToken.None));
        Assert.Contains("giving up after 4 attempts", e.Message);
        Assert.Equal(4, server.RequestCount);

        using var badRequest = new LocalChatServer(_ => "ok") { Status = _ => 400 };
        using var policy2 = new OpenAiChatPolicy(Options(badRequest.BaseUrl));
        var e2 = await Assert.ThrowsAsync<PolicyInfrastructureException>(() => policy2.ReplyAsync(Hello, Turn0, CancellationToken.None));
        Assert.Contains("HTTP 400", e2.Message);
        Assert.Equal(1, badRequest.RequestCount);
    }

    [Fact]
    public async Task TimesOutSlowAttemptsAndRetries()
    {
        int calls = 0;
        using var server = new LocalChatServer(_ =>
        {
            if (Interlocked.Increment(ref calls) == 1) Thread.Sleep(1500);
            return "late but fine";
        });
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl) with { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        Assert.Equal("late but fine", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
        Assert.True(server.RequestCount >= 2);
    }

    [Fact]
    public async Task LimitsRequestsInFlight()
    {
        int inFlight = 0, peak = 0;
        using var server = new LocalChatServer(_ =>
        {
            int now = Interlocked.Increment(ref inFlight);
            lock (this) peak = Math.Max(peak, now);
            Thread.Sleep(50);
            Interlocked.Decrement(ref inFlight);
            return "x";
        });
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl) with { MaxConcurrency = 2 });
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => policy.ReplyAsync(Hello, Turn0, CancellationToken.None)));
        Assert.Equal(8, server.RequestCount);
        Assert.True(peak <= 2, $"peak {peak}");
    }

    [Fact]
    public void ParsesPolicySpecs()
    {
        var (url, model) = OpenAiChatPolicy.ParseTarget("http://localhost:8000/v1#meta-llama/Llama-3.1-8B-Instruct");
        Assert.Equal("http://localhost:8000/v1", url.ToString().TrimEnd('/'));
        Assert.Equal("meta-llama/Llama-3.1-8B-Instruct", model);
        Assert.Throws<FormatException>(() => OpenAiChatPolicy.ParseTarget("http://localhost:8000/v1"));
        Assert.Throws<FormatException>(() => PolicySpec.Parse("gpt:foo"));
        Assert.Throws<FormatException>(() => PolicySpec.Parse("model:"));
        Assert.Equal(new PolicySpec(PolicyKind.Model, "models/mini"), PolicySpec.Parse("model:models/mini"));
        Assert.Equal(new PolicySpec(PolicyKind.OpenAi, "http://127.0.0.1:8000/v1#m"), PolicySpec.Parse("openai:http://127.0.0.1:8000/v1#m"));
        Assert.Equal(PolicyKind.Canonical, PolicySpec.Parse("canonical").Kind);
        Assert.True(PolicySpec.Parse("model:x").Samples);
        Assert.False(PolicySpec.Parse("replay:f.jsonl").Samples);
    }

    [Fact]
    public async Task ReplayAnswersTurnIWithReplyI()
    {
        string path = Path.Combine(_dir, "replies.jsonl");
        File.WriteAllText(path, """{"task_id": "a", "replies": ["first", "second"]}""" + "\n\n" + """{"task_id": "b", "replies": ["only"]}""" + "\n");
        var replay = new ReplayPolicy(path);
        Assert.Equal("second", (await replay.ReplyAsync(Hello, new PolicyContext("a", 5, 1, 3), CancellationToken.None)).Text);
        Assert.Equal("only", (await replay.ReplyAsync(Hello, new PolicyContext("b", 0, 0, 3), CancellationToken.None)).Text);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => replay.ReplyAsync(Hello, new PolicyContext("b", 0, 1, 3), CancellationToken.None));
        Assert.Contains("has 1 replies", e.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => replay.ReplyAsync(Hello, new PolicyContext("c", 0, 0, 3), CancellationToken.None));
    }

    [Theory]
    [InlineData("""{"replies": []}""", "field 'task_id'")]
    [InlineData("""{"task_id": "a", "replies": [1]}""", "field 'replies[0]'")]
    [InlineData("""{"task_id": "a"}""", "field 'replies'")]
    [InlineData("{", "invalid JSON")]
    public void MalformedReplayLinesNameLineAndField(string line, string message)
    {
        string path = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllText(path, """{"task_id": "ok", "replies": []}""" + "\n" + line + "\n");
        var e = Assert.Throws<InvalidDataException>(() => new ReplayPolicy(path));
        Assert.Contains($"{path}:2:", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task RequestBodyIsValidJsonWithTheModelName()
    {
        // Guards the wire format against accidental renames: these are the names OpenAI-compatible servers read.
        var names = new[] { "model", "messages", "temperature", "top_p", "max_tokens", "n" };
        using var server = new LocalChatServer(_ => "x");
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        await policy.ReplyAsync(Hello, Turn0, CancellationToken.None);
        JsonObject request = server.Requests.Single();
        Assert.All(names, n => Assert.True(request.ContainsKey(n), n));
    }
}
