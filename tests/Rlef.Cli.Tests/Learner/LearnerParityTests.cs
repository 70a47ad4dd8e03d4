using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json.Nodes;
using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Training.Config;
using Rlef.Training.Learner;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;
using Rlef.Training.Runs;
using Rlef.Training.Tests.Trainer;

namespace Rlef.Cli.Tests.Learner;

/// <summary>
/// `rlef serve learner` against the in-process learner (docs/tinker.md "How RLEF maps onto it"): for the same
/// weights and minibatch, the per-token PPO loss and the updated weights through the service equal the in-process
/// updater's; and the service answers requests shaped as the Tinker SDK sends them, with clear 4xx errors.
/// </summary>
public sealed class LearnerParityTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-learner-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static RlefConfig Config() => PrintTask.Config(rolloutsPerIteration: 8, updatesPerIteration: 1, totalUpdates: 1, learningRate: 1e-3) with
    {
        Optimizer = new OptimizerConfig { LearningRate = 5e-4, WarmupSteps = 1, WeightDecay = 0.1, MaxGradNorm = 1.0 },
        Ablation = new AblationConfig(), // multi-turn episodes
    };

    // Episodes of random tokens whose behaviour log-probs are the model's own shifted by noise (some below π_θ: the
    // truncated factor is < 1 there), two turns each, random outcomes.
    static List<TrainingEpisode> Episodes(LlamaModel model, int count, int seed)
    {
        var rng = new Random(seed);
        int vocab = model.Config.VocabSize;
        var episodes = new List<TrainingEpisode>();
        for (int e = 0; e < count; e++)
        {
            var turns = new List<(int[] Prompt, int[] Reply)>();
            for (int t = 0; t < 2; t++)
                turns.Add((Enumerable.Range(0, 5 + rng.Next(10)).Select(_ => rng.Next(vocab)).ToArray(),
                    Enumerable.Range(0, 3 + rng.Next(12)).Select(_ => rng.Next(vocab)).ToArray()));
            int[] sequence = turns.SelectMany(t => t.Prompt.Concat(t.Reply)).ToArray();
            float[] lp = Scorer.LogProbs(model, [sequence])[0];
            var training = new List<TrainingTurn>();
            int at = 0;
            foreach (var (prompt, reply) in turns)
            {
                at += prompt.Length;
                float[] own = lp.AsSpan(at - 1, reply.Length).ToArray();
                training.Add(new TrainingTurn
                {
                    PromptTokens = prompt, ReplyTokens = reply,
                    BehaviourLogProbs = own.Select(x => x + (float)(rng.NextDouble() * 0.6 - 0.3)).ToArray(),
                    ReferenceLogProbs = own.Select(x => x - 0.05f).ToArray(),
                    Value = (float)(rng.NextDouble() - 0.5), InvalidCode = false,
                });
                at += reply.Length;
            }
            episodes.Add(new TrainingEpisode($"p{e}", training, rng.Next(3) == 0));
        }
        return episodes;
    }

    [Fact]
    public async Task PpoLossPerTokenAndUpdatedWeightsEqualTheInProcessLearner()
    {
        LlamaModel start = PrintTask.Model(seed: 5);
        string modelDir = Path.Combine(_dir, "model");
        start.Save(modelDir);
        // The mean per reply (a switch) exercises the service mapping's per-token weights; a token mean is 1/N for all.
        RlefConfig config = Config() with { Ppo = Config().Ppo with { LossAggregation = LossAggregation.SequenceMean } };
        PpoBatch batch = PpoBatch.Build(Episodes(start, 12, seed: 3), config);
        PpoMinibatch minibatch = batch.Minibatch(Enumerable.Range(0, 12).ToArray());

        // In-process: the PPO updater's step 1 (its value network is irrelevant to the policy).
        LlamaModel local = start.Clone();
        var updater = new PpoUpdater(local, start.CreateValueModel(1), config);
        double lr = updater.LearningRateAt(1);
        LlamaModel before = start.Clone();
        PpoUpdateResult expected = updater.Update(minibatch, step: 1);

        // Per-token loss in-process (docs/protocol.md §3.5): the truncated factor inside the ratio (the default),
        // r = (π_θ/π_old)·w, and a mean over each reply's tokens, then over the replies: −c·min(r·A, clip(r)·A).
        Assert.Equal(TruncationPlacement.InsideRatio, config.Ppo.Truncation);
        Assert.Equal(LossAggregation.SequenceMean, config.Ppo.LossAggregation);
        float[] logProbs = ReplyLogProbs(before, minibatch);
        double[] tokenWeights = PpoMath.SequenceMeanWeights(minibatch.TurnTokenOffsets, minibatch.EffectiveTurnNormaliser);
        var expectedTokens = new double[minibatch.TokenCount];
        for (int k = 0; k < expectedTokens.Length; k++)
        {
            double w = Math.Min(Math.Exp(logProbs[k] - (double)minibatch.BehaviourLogProbs[k]), 1);
            double r = Math.Exp(logProbs[k] - (double)minibatch.OldLogProbs[k]) * w;
            double a = minibatch.Advantages[k];
            expectedTokens[k] = -tokenWeights[k] * Math.Min(r * a, Math.Clamp(r, 0.8, 1.2) * a);
        }
        Assert.Equal(expected.Loss.PolicyLoss, expectedTokens.Sum(), 1e-5);
        Assert.Contains(logProbs.Select((x, k) => x < minibatch.BehaviourLogProbs[k]), b => b); // some tokens truncated

        string state = Path.Combine(_dir, "state");
        using var server = LearnerServerProcess.Start(modelDir, "print", state);
        using var learner = await TinkerLearner.StartAsync(server.BaseUrl, config, "print", loraRank: null, resume: null, null, CancellationToken.None);
        var (loss, gradNorm, tokens) = await learner.UpdateAsync(minibatch, lr, CancellationToken.None);

        Assert.Equal(expectedTokens.Length, tokens.Length);
        double worst = expectedTokens.Select((x, k) => Math.Abs(x - tokens[k])).Max();
        Assert.True(worst <= 1e-5, $"per-token PPO loss differs by up to {worst:E2}");
        Assert.Equal(expected.Loss.PolicyLoss, loss.PolicyLoss, 1e-5);
        Assert.Equal(expected.PolicyGradNorm, gradNorm, 1e-4 * Math.Max(1, expected.PolicyGradNorm));

        // The updated weights, as the service saved them for its sampler.
        string path = await learner.SaveForSamplerAsync("step-1", CancellationToken.None);
        Assert.StartsWith($"tinker://{learner.State.ModelId}/sampler_weights/step-1", path);
        LlamaModel remote = LlamaModel.CreateEmpty(start.Config);
        HfWeights.Load(Path.Combine(state, learner.State.ModelId, "sampler_weights", "step-1"), remote.Parameters, allowMissingLmHead: start.Config.TieWordEmbeddings);
        double moved = 0, differs = 0;
        for (int p = 0; p < local.Parameters.Count; p++)
            for (int i = 0; i < local.Parameters[p].Length; i++)
            {
                moved = Math.Max(moved, Math.Abs(local.Parameters[p].Data[i] - before.Parameters[p].Data[i]));
                differs = Math.Max(differs, Math.Abs(local.Parameters[p].Data[i] - remote.Parameters[p].Data[i]));
            }
        Assert.True(moved > 1e-4, $"the update should move the weights (moved {moved:E2})");
        // AdamW's first step is ±lr wherever |g| ≫ eps, so a weight whose gradient is at float-rounding level (the
        // service packs L−1 input tokens per row, the updater L) can step either way: the bound scales with the lr.
        Assert.True(differs <= 1e-5, $"updated weights differ from the in-process update by up to {differs:E2} (moved up to {moved:E2})");
    }

    static float[] ReplyLogProbs(LlamaModel model, PpoMinibatch minibatch)
    {
        var result = new List<float>();
        foreach (TrainingEpisode e in minibatch.Episodes)
        {
            var s = new EpisodeSequence(e);
            float[] lp = Scorer.LogProbs(model, [s.Tokens])[0];
            for (int t = 0; t < s.ReplyStarts.Length; t++)
                result.AddRange(lp.AsSpan(s.ReplyStarts[t] - 1, e.Turns[t].ReplyTokens.Length).ToArray());
        }
        return result.ToArray();
    }

    [Fact]
    public async Task SdkShapedRequestsAreServedAndBadOnesGetClearErrors()
    {
        LlamaModel start = PrintTask.Model(seed: 5);
        string modelDir = Path.Combine(_dir, "model");
        start.Save(modelDir);
        using var server = LearnerServerProcess.Start(modelDir, "print", Path.Combine(_dir, "state"), "--token", "0123456789abcdef0123");
        using var http = new HttpClient { BaseAddress = server.BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        async Task<(HttpStatusCode, JsonNode?)> Post(string path, string json, string? key = "0123456789abcdef0123", string? idempotency = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            if (key is not null) request.Headers.Add("X-API-Key", key); // what the SDK sends
            if (idempotency is not null) request.Headers.Add("X-Idempotency-Key", idempotency);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("api/v1/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Post("api/v1/create_session", "{}", key: null)).Item1);
        // The SDK's bodies (model_dump(exclude_none) of CreateSessionRequest, CreateModelRequest, ...).
        var (status, session) = await Post("api/v1/create_session", """{"tags":[],"sdk_version":"0.20.0","type":"create_session"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        string sessionId = session!["session_id"]!.ToString();
        var (_, future) = await Post("api/v1/create_model", $$"""{"session_id":"{{sessionId}}","model_seq_id":0,"base_model":"print","lora_config":{"rank":32,"seed":null,"train_unembed":true,"train_mlp":true,"train_attn":true},"type":"create_model"}""");
        var (_, created) = await Post("api/v1/retrieve_future", $$"""{"request_id":"{{future!["request_id"]}}"}""");
        string model = created!["model_id"]!.ToString();

        string datum = """{"model_input":{"chunks":[{"tokens":[10,11,12,13],"type":"encoded_text"}]},"loss_fn_inputs":{"target_tokens":{"data":[11,12,13,14],"dtype":"int64","shape":[4]},"weights":{"data":[0.0,1.0,1.0,1.0],"dtype":"float32","shape":[4]}}}""";
        string fb = $$"""{"forward_backward_input":{"data":[{{datum}}],"loss_fn":"cross_entropy"},"model_id":"{{model}}","seq_id":1}""";
        var (_, first) = await Post("api/v1/forward_backward", fb, idempotency: "call-1");
        var (_, again) = await Post("api/v1/forward_backward", fb, idempotency: "call-1");
        Assert.Equal(first!["request_id"]!.ToString(), again!["request_id"]!.ToString()); // a retried call is not applied twice
        var (okStatus, output) = await Post("api/v1/retrieve_future", $$"""{"request_id":"{{first["request_id"]}}"}""");
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal(4, output!["loss_fn_outputs"]![0]!["logprobs"]!["data"]!.AsArray().Count);
        Assert.True(output["metrics"]!["loss:sum"]!.GetValue<double>() > 0);

        var (stepStatus, step) = await Post("api/v1/optim_step", $$"""{"adam_params":{"learning_rate":0.001,"beta1":0.9,"beta2":0.95,"eps":1e-12,"weight_decay":0.0,"grad_clip_norm":0.0},"model_id":"{{model}}","seq_id":2,"type":"optim_step"}""");
        Assert.Equal(HttpStatusCode.OK, stepStatus);
        var (_, stepped) = await Post("api/v1/retrieve_future", $$"""{"request_id":"{{step!["request_id"]}}"}""");
        Assert.Equal(1, stepped!["metrics"]!["step"]!.GetValue<long>());

        var (sampleStatus, sample) = await Post("api/v1/asample", """{"num_samples":2,"prompt":{"chunks":[{"tokens":[10,11],"type":"encoded_text"}]},"sampling_params":{"max_tokens":5,"seed":7,"temperature":1.0,"top_k":-1,"top_p":1.0},"base_model":"print","prompt_logprobs":true,"topk_prompt_logprobs":0,"type":"sample"}""");
        Assert.Equal(HttpStatusCode.OK, sampleStatus);
        var (_, sampled) = await Post("api/v1/retrieve_future", $$"""{"request_id":"{{sample!["request_id"]}}"}""");
        Assert.Equal(2, sampled!["sequences"]!.AsArray().Count);
        Assert.Equal(5, sampled["sequences"]![0]!["tokens"]!.AsArray().Count);
        Assert.Null(sampled["prompt_logprobs"]![0]);

        // Clear 4xx in FastAPI's shape, naming the field.
        var (bad, error) = await Post("api/v1/forward_backward", fb.Replace("cross_entropy", "dro"));
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Contains("loss_fn", error!["detail"]!.ToString());
        var (missing, error2) = await Post("api/v1/forward_backward", fb.Replace("cross_entropy", "ppo"));
        Assert.Equal(HttpStatusCode.BadRequest, missing);
        Assert.Contains("loss_fn_inputs.logprobs", error2!["detail"]!.ToString());
        var (unknown, _) = await Post("api/v1/optim_step", """{"adam_params":{},"model_id":"model_nope"}""");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        var (noFuture, _) = await Post("api/v1/retrieve_future", """{"request_id":"99999"}""");
        Assert.Equal(HttpStatusCode.NotFound, noFuture);
        http.DefaultRequestHeaders.Add("X-API-Key", "0123456789abcdef0123");
        Assert.Contains("rlef_learner_futures_completed_total", await http.GetStringAsync("metrics"));
    }
}
