using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;
using Rlef.Environment.Policies;
using Rlef.Training.Actors;
using Rlef.Training.Actors.Remote;
using Rlef.Training.Tests.Trainer;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;

namespace Rlef.Cli.Tests.Actors;

/// <summary>
/// `rlef serve model` against the in-process engine and against requests shaped as real clients send them
/// (docs/inference-servers.md): the same tokens and log-probs through vLLM's /v1/completions and SGLang's /generate
/// as the in-process sampler gives, the OpenAI chat endpoint as `rlef eval --policy openai:` calls it, refusals in
/// the OpenAI error shape, weight reloads, metrics.
/// </summary>
[Collection("actors")]
public sealed class ServedSamplingTests(PrintModelServers servers)
{
    static IReadOnlyList<SampleRequest> Prompts(int count, int seed) => PrintTask.Problems(count, seed: 31).Select((p, i) =>
        new SampleRequest(PrintTask.Format.EncodeChat([EngineMessage.User(Rlef.Environment.Episodes.Templates.InitialPrompt(p))], addGenerationPrompt: true),
            Generator.SequenceSeed(seed, i))).ToList();

    static SamplingOptions Options(float temperature) => new()
    {
        Temperature = temperature,
        MaxTokens = 24,
        StopTokenIds = PrintTask.Format.StopIds,
    };

    [Theory]
    [InlineData(0f)]
    [InlineData(1f)]
    public async Task TokensAndLogProbsThroughEachProtocolEqualTheInProcessSamplers(float temperature)
    {
        var requests = Prompts(6, seed: 5);
        SamplingOptions options = Options(temperature);
        var local = new EngineSampler(servers.Model.Clone()).Sample(requests, options);
        using var vllm = new VllmSampler(servers.A.BaseUrl, "print", servers.Model.Config.VocabSize);
        using var sglang = new SglangSampler(servers.B.BaseUrl, servers.Model.Config.VocabSize, scheme: "rlef");
        foreach (ITokenSampler remote in new ITokenSampler[] { vllm, sglang })
        {
            var answers = await remote.SampleAsync(requests, options, CancellationToken.None);
            for (int i = 0; i < requests.Count; i++)
            {
                Assert.Equal(local[i].Tokens, answers[i].Tokens);
                Assert.Equal(local[i].FinishReason, answers[i].FinishReason);
                for (int k = 0; k < local[i].LogProbs.Length; k++)
                    Assert.True(Math.Abs(local[i].LogProbs[k] - answers[i].LogProbs[k]) <= 1e-4,
                        $"{remote.Name} sequence {i} token {k}: log-prob {answers[i].LogProbs[k]} vs in-process {local[i].LogProbs[k]}");
            }
        }
    }

    static async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(Uri baseUrl, string path, string json)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        using var response = await http.PostAsync(new Uri(baseUrl, path), new StringContent(json, Encoding.UTF8, "application/json"));
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    [Fact]
    public async Task RequestsShapedAsTheRealClientsSendThemAreAnswered()
    {
        int[] prompt = Prompts(1, seed: 1)[0].Prompt.ToArray();
        string ids = "[" + string.Join(",", prompt) + "]";

        // The OpenAI Python SDK's completions.create(model, prompt=[ids], max_tokens, temperature, logprobs=1,
        // extra_body={"return_tokens_as_token_ids": True, "return_token_ids": True}), as vLLM's docs show it.
        var (status, completion) = await PostAsync(servers.A.BaseUrl, "v1/completions",
            $$"""{"model":"print","prompt":{{ids}},"max_tokens":12,"temperature":0,"logprobs":1,"return_tokens_as_token_ids":true,"return_token_ids":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        JsonNode choice = completion!["choices"]![0]!;
        var tokenIds = choice["token_ids"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        Assert.Equal(tokenIds.Select(t => $"token_id:{t}"), choice["logprobs"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(tokenIds.Length, choice["logprobs"]!["token_logprobs"]!.AsArray().Count);
        Assert.Equal(prompt, choice["prompt_token_ids"]!.AsArray().Select(t => t!.GetValue<int>()));
        Assert.Equal("text_completion", completion["object"]!.GetValue<string>());
        Assert.Equal(prompt.Length + tokenIds.Length, completion["usage"]!["total_tokens"]!.GetValue<int>());

        // An SGLang client's /generate (the body slime/AReaL-style rollouts post): input_ids, sampling_params, return_logprob.
        (status, JsonNode? generated) = await PostAsync(servers.B.BaseUrl, "generate",
            $$"""{"input_ids":{{ids}},"sampling_params":{"temperature":0,"top_p":1.0,"top_k":-1,"max_new_tokens":12,"skip_special_tokens":false,"no_stop_trim":true,"spaces_between_special_tokens":false},"return_logprob":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var outputIds = generated!["output_ids"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        Assert.Equal(tokenIds, outputIds); // greedy: the same reply through both protocols
        Assert.Equal(outputIds, generated["meta_info"]!["output_token_logprobs"]!.AsArray().Select(e => e![1]!.GetValue<int>()));
        Assert.Contains(generated["meta_info"]!["finish_reason"]!["type"]!.GetValue<string>(), new[] { "stop", "length" });

        // A batch of two prompts with one sampling_params per prompt: a JSON list in input order.
        (status, JsonNode? batch) = await PostAsync(servers.B.BaseUrl, "generate",
            $$"""{"input_ids":[{{ids}},{{ids}}],"sampling_params":[{"temperature":0,"max_new_tokens":12},{"temperature":0,"max_new_tokens":5}],"return_logprob":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(outputIds, batch![0]!["output_ids"]!.AsArray().Select(t => t!.GetValue<int>()));
        Assert.Equal(outputIds.Take(5), batch[1]!["output_ids"]!.AsArray().Select(t => t!.GetValue<int>()));

        // `rlef eval --policy openai:URL/v1#print` talks to /v1/chat/completions through this client, with the
        // assistant prefix continued (continue_final_message) when the problem has one.
        using var chat = new OpenAiChatPolicy(new OpenAiOptions { BaseUrl = new Uri(servers.A.BaseUrl, "v1"), Model = "print", Temperature = 0, MaxTokens = 24, ApiKeyVariable = "RLEF_TEST_NO_KEY" });
        var problem = PrintTask.Problems(1, seed: 31)[0];
        var reply = await chat.ReplyAsync(new Conversation([new ChatMessage("user", Rlef.Environment.Episodes.Templates.InitialPrompt(problem))]),
            new PolicyContext(problem.Id, 0, 0, 1), CancellationToken.None);
        var expected = (await new EngineSampler(servers.Model.Clone()).SampleAsync([Prompts(1, seed: 1)[0]], Options(0f), CancellationToken.None))[0];
        Assert.Equal(PrintTask.Format.Tokenizer.Decode(expected.Tokens, skipSpecialTokens: true), reply.Text);
    }

    [Fact]
    public async Task BadRequestsGetAClearErrorInTheOpenAiShape()
    {
        async Task Refused(string path, string json, HttpStatusCode expected, string mentions)
        {
            var (status, body) = await PostAsync(servers.A.BaseUrl, path, json);
            Assert.Equal(expected, status);
            string message = body!["error"]!["message"]!.GetValue<string>();
            Assert.Contains(mentions, message);
        }
        await Refused("v1/completions", "{not json", HttpStatusCode.BadRequest, "not valid JSON");
        await Refused("v1/completions", """{"model":"other","prompt":[1,2]}""", HttpStatusCode.NotFound, "other");
        await Refused("v1/completions", """{"prompt":[1,2],"n":2}""", HttpStatusCode.BadRequest, "'n'");
        await Refused("v1/completions", """{"prompt":[1,99999]}""", HttpStatusCode.BadRequest, "vocabulary");
        await Refused("v1/completions", """{"prompt":[1,2],"max_tokens":100000}""", HttpStatusCode.BadRequest, "max_tokens");
        await Refused("v1/completions", "{\"prompt\":[" + string.Join(",", Enumerable.Repeat(1, 600)) + "]}", HttpStatusCode.BadRequest, "prompt has 600 tokens");
        await Refused("generate", """{"input_ids":[1,2],"sampling_params":{"frequency_penalty":0.5}}""", HttpStatusCode.BadRequest, "frequency_penalty");
        await Refused("generate", """{"input_ids":[1,2],"sampling_params":{"bogus":1}}""", HttpStatusCode.BadRequest, "bogus");
        await Refused("v1/chat/completions", """{"messages":[{"role":"tool","content":"x"}]}""", HttpStatusCode.BadRequest, "role");

        var (status, body) = await PostAsync(servers.A.BaseUrl, "update_weights_from_disk", """{"model_path":"/nonexistent/weights"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body!["success"]!.GetValue<bool>());
    }

    [Fact]
    public async Task WeightsReloadFromDiskAndMetricsCountTheWork()
    {
        // The same weights reloaded through both protocols' endpoints: success, and the version moves on.
        using var sglang = new SglangSampler(servers.B.BaseUrl, servers.Model.Config.VocabSize, scheme: "rlef");
        await sglang.LoadWeightsAsync(servers.ModelDirectory, 7, CancellationToken.None);
        using var vllm = new VllmSampler(servers.B.BaseUrl, null, servers.Model.Config.VocabSize);
        await vllm.LoadWeightsAsync(servers.ModelDirectory, 8, CancellationToken.None);
        await sglang.SampleAsync(Prompts(2, 3), Options(0f), CancellationToken.None);

        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri(servers.B.BaseUrl, "metrics"));
        foreach (string name in new[] { "rlef_model_generated_tokens_total", "rlef_model_batch_size_bucket", "rlef_model_scheduler_queue_length",
                     "rlef_model_generation_tokens_per_second", "rlef_model_http_requests_total", "rlef_model_generate_queue_length" })
            Assert.Contains(name, metrics);
        string reloads = metrics.Split('\n').Single(l => l.StartsWith("rlef_model_weight_reloads ", StringComparison.Ordinal));
        Assert.True(double.Parse(reloads.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 2, reloads);
        JsonNode health = JsonNode.Parse(await http.GetStringAsync(new Uri(servers.B.BaseUrl, "health")))!;
        Assert.Equal("ok", health["status"]!.GetValue<string>());
    }
}

[CollectionDefinition("actors")]
public sealed class ActorsCollection : ICollectionFixture<PrintModelServers>;
