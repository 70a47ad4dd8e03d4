using System.Net;
using System.Text;
using Rlef.Engine.Sampling;
using Rlef.Training.Actors;
using Rlef.Training.Actors.Remote;

namespace Rlef.Training.Tests.Actors;

/// <summary>
/// The HTTP samplers against a server that misbehaves (docs/inference-servers.md §3): answers are given by a message
/// handler standing in for a broken server, so each fault is exact. A refusal, malformed JSON, ids outside the
/// vocabulary or disagreeing fields are errors naming the server; 5xx and connection errors are retried.
/// </summary>
public sealed class RemoteSamplerTests
{
    sealed class Scripted(params Func<HttpRequestMessage, HttpResponseMessage>[] answers) : HttpMessageHandler
    {
        int _calls;
        public int Calls => _calls;
        public List<string> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Bodies.Add(request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken));
            int call = Interlocked.Increment(ref _calls) - 1;
            return answers[Math.Min(call, answers.Length - 1)](request);
        }
    }

    static HttpResponseMessage Json(HttpStatusCode status, string body) => new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    static readonly Uri Server = new("http://127.0.0.1:9/");
    static readonly ServerCallOptions Fast = new() { MaxRetries = 2, InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(5) };
    static readonly SamplingOptions Options = new() { Temperature = 1, MaxTokens = 4, StopTokenIds = [2] };
    static readonly SampleRequest Request = new([1, 5, 6], Seed: 42);

    const string VllmGood = """{"choices":[{"index":0,"text":"ab","logprobs":{"tokens":["token_id:7","token_id:2"],"token_logprobs":[-0.5,-0.25],"top_logprobs":[null,null],"text_offset":[0,1]},"finish_reason":"stop","token_ids":[7,2]}]}""";

    [Fact]
    public async Task VllmAnswersBecomeExactIdsAndLogProbsAndTheRequestIsTokenInTokenOut()
    {
        var handler = new Scripted(_ => Json(HttpStatusCode.OK, VllmGood));
        using var sampler = new VllmSampler(Server, "policy", vocabSize: 10, Fast, handler: handler);
        Generation g = (await sampler.SampleAsync([Request], Options, CancellationToken.None))[0];
        Assert.Equal(new[] { 7, 2 }, g.Tokens);
        Assert.Equal(new[] { -0.5f, -0.25f }, g.LogProbs);
        Assert.Equal(FinishReason.StopToken, g.FinishReason);
        var body = System.Text.Json.Nodes.JsonNode.Parse(handler.Bodies[0])!;
        Assert.Equal("[1,5,6]", body["prompt"]!.ToJsonString());
        Assert.Equal(42, body["seed"]!.GetValue<int>());
        Assert.True(body["return_tokens_as_token_ids"]!.GetValue<bool>());
        Assert.Equal(0, body["logprobs"]!.GetValue<int>());
    }

    [Fact]
    public async Task FiveHundredsAreRetriedAndFourHundredsAreFinalWithUrlStatusAndBody()
    {
        var flaky = new Scripted(_ => Json(HttpStatusCode.ServiceUnavailable, "busy"), _ => Json(HttpStatusCode.OK, VllmGood));
        using (var sampler = new VllmSampler(Server, null, 10, Fast, handler: flaky))
            Assert.Equal(new[] { 7, 2 }, (await sampler.SampleAsync([Request], Options, CancellationToken.None))[0].Tokens);
        Assert.Equal(2, flaky.Calls);

        var refusing = new Scripted(_ => Json(HttpStatusCode.BadRequest, """{"error":{"message":"bad prompt"}}"""));
        using var refused = new VllmSampler(Server, null, 10, Fast, handler: refusing);
        var e = await Assert.ThrowsAsync<InferenceServerException>(() => refused.SampleAsync([Request], Options, CancellationToken.None));
        Assert.Contains("127.0.0.1:9/v1/completions", e.Message);
        Assert.Contains("400", e.Message);
        Assert.Contains("bad prompt", e.Message);
        Assert.Equal(1, refusing.Calls);

        var down = new Scripted(_ => throw new HttpRequestException("Connection refused"));
        using var gone = new SglangSampler(Server, 10, Fast, handler: down);
        e = await Assert.ThrowsAsync<InferenceServerException>(() => gone.SampleAsync([Request], Options, CancellationToken.None));
        Assert.Contains("giving up after 3 attempts", e.Message);
        Assert.Contains("Connection refused", e.Message);
    }

    [Theory]
    [InlineData("not json at all", "malformed JSON")]
    [InlineData("""{"meta_info":{"finish_reason":{"type":"stop"}}}""", "output_token_logprobs")]
    [InlineData("""{"output_ids":[42],"meta_info":{"finish_reason":{"type":"stop"},"output_token_logprobs":[[-0.1,42,null]]}}""", "outside the learner's vocabulary")]
    [InlineData("""{"output_ids":[8],"meta_info":{"finish_reason":{"type":"stop"},"output_token_logprobs":[[-0.1,7,null]]}}""", "output_ids differ")]
    [InlineData("""{"meta_info":{"finish_reason":{"type":"stop"},"output_token_logprobs":[[0.7,7,null]]}}""", "not a log-probability")]
    [InlineData("""{"meta_info":{"finish_reason":{"type":"length"},"output_token_logprobs":[[-1,7,null],[-1,7,null],[-1,7,null],[-1,7,null],[-1,7,null]]}}""", "at most 4")]
    public async Task AnUnusableSglangAnswerIsAnErrorNamingTheServer(string answer, string mentions)
    {
        using var sampler = new SglangSampler(Server, vocabSize: 10, Fast, handler: new Scripted(_ => Json(HttpStatusCode.OK, answer)));
        var e = await Assert.ThrowsAsync<InferenceServerException>(() => sampler.SampleAsync([Request], Options, CancellationToken.None));
        Assert.Contains("127.0.0.1:9", e.Message);
        Assert.Contains(mentions, e.Message);
    }

    [Fact]
    public async Task SglangWeightReloadThatFailsIsAnError()
    {
        var handler = new Scripted(_ => Json(HttpStatusCode.BadRequest, """{"success":false,"message":"no such file","num_paused_requests":0}"""));
        using var sampler = new SglangSampler(Server, 10, Fast, handler: handler);
        var e = await Assert.ThrowsAsync<InferenceServerException>(() => sampler.LoadWeightsAsync("/w", 3, CancellationToken.None));
        Assert.Contains("no such file", e.Message);
        var body = System.Text.Json.Nodes.JsonNode.Parse(handler.Bodies[0])!;
        Assert.Equal("/w", body["model_path"]!.GetValue<string>());
        Assert.Equal("3", body["weight_version"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("embedded", ActorProtocol.Embedded, null, null)]
    [InlineData("vllm:http://h:8000/v1#policy", ActorProtocol.Vllm, "http://h:8000/", "policy")]
    [InlineData("sglang:http://h:30000", ActorProtocol.Sglang, "http://h:30000/", null)]
    [InlineData("rlef:https://h:8100/", ActorProtocol.Rlef, "https://h:8100/", null)]
    public void ActorEntriesParse(string text, ActorProtocol protocol, string? url, string? model)
    {
        ActorSpec spec = ActorSpec.Parse(text);
        Assert.Equal(protocol, spec.Protocol);
        Assert.Equal(url, spec.BaseUrl?.ToString());
        Assert.Equal(model, spec.Model);
    }

    [Theory]
    [InlineData("tgi:http://h")]
    [InlineData("vllm:ftp://h")]
    [InlineData("sglang:http://h#model")]
    public void BadActorEntriesAreRefusedWithTheEntry(string text) =>
        Assert.Contains(text.Split(':')[0], Assert.Throws<FormatException>(() => ActorSpec.Parse(text)).Message);
}

public sealed class ActorConfigTests
{
    [Fact]
    public void ActorsAreAYamlListOrACommaSeparatedOverrideAndCompareByValue()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rlef-actors-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(path, "rollout:\n  actors:\n    - rlef:http://127.0.0.1:8100\n    - vllm:http://h:8000#policy\n  max_policy_lag: 1\n");
            var fromYaml = Rlef.Training.Config.ConfigLoader.Load(path);
            Assert.Equal(["rlef:http://127.0.0.1:8100", "vllm:http://h:8000#policy"], fromYaml.Rollout.ActorEntries);
            Assert.False(fromYaml.Rollout.Synchronous);
            var fromOverride = Rlef.Training.Config.ConfigLoader.Load(null, ["rollout.actors=rlef:http://127.0.0.1:8100,vllm:http://h:8000#policy", "rollout.max_policy_lag=1"]);
            Assert.Equal(fromYaml, fromOverride);
            Assert.True(Rlef.Training.Config.ConfigLoader.Load(null).Rollout.Synchronous);
            var error = Assert.Throws<Rlef.Training.Config.ConfigException>(() => Rlef.Training.Config.ConfigLoader.Load(null, ["rollout.actors=tgi:http://h"]));
            Assert.Contains("rollout.actors", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
