using System.Diagnostics;
using Rlef.Environment.Policies;
using Rlef.Environment.Running;
using Rlef.Tests.Faults;

namespace Rlef.Environment.Tests;

/// <summary>
/// The OpenAI client against a misbehaving server (<see cref="FaultyChatServer"/>): every reply outside the
/// chat-completions schema is an infrastructure error — retried a bounded number of times, reported with endpoint,
/// status and body, never returned as an (empty) answer; secrets echoed by the server never reach a message; a dead
/// or hung endpoint trips one shared circuit breaker.
/// </summary>
public sealed class PolicyFaultTests
{
    private static readonly Conversation Hello = new([ChatMessage.User("hello")]);
    private static readonly PolicyContext Turn0 = new("task", 0, 0, 3);

    private static OpenAiOptions Options(Uri url, int retries = 2) => new()
    {
        BaseUrl = url, Model = "test-model", MaxRetries = retries, InitialBackoff = TimeSpan.FromMilliseconds(5),
        MaxBackoff = TimeSpan.FromMilliseconds(20), RequestTimeout = TimeSpan.FromSeconds(10), ApiKeyVariable = "RLEF_TEST_KEY_THAT_IS_NOT_SET",
    };

    [Theory]
    [InlineData(Fault.LegacyText, "legacy completions shape")]
    [InlineData(Fault.NullContent, "content is null")]
    [InlineData(Fault.EmptyChoices, "'choices' is empty")]
    [InlineData(Fault.Html, "HTML")]
    [InlineData(Fault.TruncatedJson, "invalid JSON")]
    [InlineData(Fault.WrongShape, "no 'choices' array")]
    public async Task ARepliesOutsideTheProtocolIsAnInfrastructureErrorRetriedThenReported(Fault fault, string why)
    {
        await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(fault, Content: "```python\nprint(1)\n```"));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl, retries: 2));
        var e = await Assert.ThrowsAsync<PolicyInfrastructureException>(() => policy.ReplyAsync(Hello, Turn0, CancellationToken.None));
        Assert.Equal(3, server.RequestCount); // the first attempt and two retries
        Assert.Contains(server.BaseUrl + "/chat/completions", e.Message);
        Assert.Contains("HTTP 200", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public async Task AMalformedReplyIsRetriedAndTheNextGoodOneIsUsed()
    {
        await using var server = await FaultyChatServer.StartAsync((i, _) => i == 0 ? new FaultAction(Fault.NullContent) : FaultAction.Reply("good"));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        Assert.Equal("good", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
        Assert.Equal(2, server.RequestCount);
    }

    [Fact]
    public async Task AnEmptyStringIsAReplyButNullIsNot()
    {
        await using var server = await FaultyChatServer.StartAsync((_, _) => FaultAction.Reply(""));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        Assert.Equal("", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
    }

    [Fact]
    public async Task ARefusalIsTheModelsAnswerNotAnInfrastructureError()
    {
        await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(Fault.Refusal, Content: "I can't help with that."));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl));
        Assert.Equal("I can't help with that.", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
        Assert.Equal(1, server.RequestCount);
    }

    [Fact]
    public async Task AKeyEchoedByTheServerIsMaskedInTheError()
    {
        const string variable = "RLEF_TEST_SECRET_FOR_MASKING";
        const string key = "sk-test-0123456789-SECRET-abcdef";
        System.Environment.SetEnvironmentVariable(variable, key);
        try
        {
            await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(Fault.EchoKey));
            using var policy = new OpenAiChatPolicy(Options(server.BaseUrl) with { ApiKeyVariable = variable });
            var e = await Assert.ThrowsAsync<PolicyInfrastructureException>(() => policy.ReplyAsync(Hello, Turn0, CancellationToken.None));
            Assert.Equal("Bearer " + key, server.AuthorizationHeaders.Single()); // the key was sent ...
            Assert.Contains("HTTP 401", e.Message);
            Assert.DoesNotContain(key, e.Message); // ... and never written back
            Assert.Contains("Incorrect API key provided: ***", e.Message);
            Assert.Equal(1, server.RequestCount); // a 401 is not retried
        }
        finally
        {
            System.Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task ADeadEndpointTripsTheSharedCircuitBreaker()
    {
        using var policy = new OpenAiChatPolicy(Options(FaultyChatServer.DeadEndpoint(), retries: 50) with { CircuitBreakerThreshold = 6, MaxConcurrency = 4 });
        var clock = Stopwatch.StartNew();
        var replies = Enumerable.Range(0, 8).Select(i => policy.ReplyAsync(Hello, Turn0 with { RolloutIndex = i }, CancellationToken.None)).ToList();
        foreach (var reply in replies)
            await Assert.ThrowsAnyAsync<PolicyInfrastructureException>(() => reply);
        Assert.True(policy.Breaker.IsOpen);
        Assert.Contains(replies, r => r.Exception!.InnerException is EndpointUnavailableException);
        var later = await Assert.ThrowsAsync<EndpointUnavailableException>(() => policy.ReplyAsync(Hello, Turn0, CancellationToken.None));
        Assert.Contains("6 consecutive connection failures or timeouts", later.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}"); // not 8 × 50 retries each
    }

    [Fact]
    public async Task AHungServerTimesOutAndCountsTowardsTheBreaker()
    {
        await using var server = await FaultyChatServer.StartAsync((_, _) => new FaultAction(Fault.Hang));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl, retries: 5) with
        {
            RequestTimeout = TimeSpan.FromMilliseconds(300), CircuitBreakerThreshold = 2,
        });
        var e = await Assert.ThrowsAnyAsync<PolicyInfrastructureException>(() => policy.ReplyAsync(Hello, Turn0, CancellationToken.None));
        Assert.IsType<EndpointUnavailableException>(e);
        Assert.Contains("no answer within", e.Message);
        // Two attempts timed out and the breaker stopped the other four retries. Under load the second attempt can
        // time out before the server has even dispatched it, so the server may have counted only one.
        Assert.InRange(server.RequestCount, 1, 2);
    }

    [Fact]
    public async Task AnAnswerResetsTheBreaker()
    {
        await using var server = await FaultyChatServer.StartAsync((i, _) => i % 2 == 0 ? new FaultAction(Fault.Abort) : FaultAction.Reply("ok"));
        using var policy = new OpenAiChatPolicy(Options(server.BaseUrl, retries: 3) with { CircuitBreakerThreshold = 2 });
        for (int i = 0; i < 5; i++)
            Assert.Equal("ok", (await policy.ReplyAsync(Hello, Turn0, CancellationToken.None)).Text);
        Assert.False(policy.Breaker.IsOpen);
    }

    [Fact]
    public void TheDefaultRequestTimeoutIsBounded()
    {
        var options = Options(new Uri("http://127.0.0.1:1/v1"));
        Assert.True(new OpenAiOptions { BaseUrl = options.BaseUrl, Model = "m" }.RequestTimeout <= TimeSpan.FromMinutes(2));
        Assert.True(new OpenAiOptions { BaseUrl = options.BaseUrl, Model = "m" }.CircuitBreakerThreshold > 0);
    }

    [Fact]
    public void AResumeMayPointAtTheSameModelOnAnotherPort()
    {
        string dir = Directory.CreateTempSubdirectory("rlef-identity-").FullName;
        try
        {
            using var a = new OpenAiChatPolicy(Options(new Uri("http://127.0.0.1:8000/v1")));
            using var b = new OpenAiChatPolicy(Options(new Uri("http://127.0.0.1:9001/v1")));
            using var other = new OpenAiChatPolicy(Options(new Uri("http://127.0.0.1:8000/v1")) with { Model = "other-model" });
            RunSettings Settings(IPolicy p) => new() { Dataset = "codecontests", DataSha256 = "x", Policy = p.Identity(), TurnLimit = 3, Feedback = "real" };
            EvaluationRun.CheckOrWriteSettings(dir, Settings(a));
            EvaluationRun.CheckOrWriteSettings(dir, Settings(b)); // the server restarted on another port: same run
            var e = Assert.Throws<InvalidOperationException>(() => EvaluationRun.CheckOrWriteSettings(dir, Settings(other)));
            Assert.Contains("other-model", e.Message);

            // run.json written before the identity left out the address still resumes.
            File.WriteAllText(Path.Combine(dir, EvaluationRun.SettingsFile), File.ReadAllText(Path.Combine(dir, EvaluationRun.SettingsFile))
                .Replace("\"openai:test-model\"", "\"openai:http://127.0.0.1:8000/v1#test-model\""));
            EvaluationRun.CheckOrWriteSettings(dir, Settings(b));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
