using System.Text.Json.Nodes;
using Rlef.Training.Config;
using Rlef.Training.Ppo;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Learner;

/// <summary>Where a run's policy lives on a training service (kept in checkpoints so --resume continues on it).</summary>
/// <param name="TrainingPath">The service's training checkpoint (save_weights: weights and optimizer) of the run's last checkpoint.</param>
public sealed record TinkerState(string ModelId, string? SamplerPath, long ServiceSteps, string? TrainingPath = null);

/// <summary>
/// RLEF's policy learner on a Tinker-compatible training service (docs/tinker.md "How RLEF maps onto it"): each PPO
/// update is a forward (π_θ of the reply tokens, for the truncated behaviour factor), a forward_backward with the
/// service's ppo loss with the run's per-token weights and truncated factor folded into its inputs (0 off the reply tokens), and an optim_step with the run's AdamW
/// settings; weights are saved for the sampler after each iteration; reference log-probs come from the base model's
/// sampler. The policy loss, its per-token terms and the gradient equal the in-process updater's.
/// </summary>
public sealed class TinkerLearner : IDisposable
{
    readonly TinkerClient _client;
    readonly RlefConfig _config;

    TinkerLearner(TinkerClient client, RlefConfig config, string baseModel, TinkerState state)
    {
        _client = client;
        _config = config;
        BaseModel = baseModel;
        State = state;
    }

    public string BaseModel { get; }
    public TinkerState State { get; private set; }
    public Uri Url => _client.BaseUrl;

    /// <summary>
    /// A session and a model for the policy, or, with <paramref name="resume"/>, the model a checkpoint recorded (the
    /// run stops with a clear message when the service no longer has it).
    /// </summary>
    public static async Task<TinkerLearner> StartAsync(Uri url, RlefConfig config, string baseModel, int? loraRank, TinkerState? resume,
        TinkerCallOptions? options, CancellationToken cancellationToken)
    {
        var client = new TinkerClient(url, options);
        try
        {
            JsonNode capabilities = await client.GetAsync("api/v1/get_server_capabilities", cancellationToken);
            var models = (capabilities["supported_models"] as JsonArray ?? []).Select(m => m?["model_name"]?.ToString()).ToList();
            if (!models.Contains(baseModel))
                throw new TrainingServiceException($"{url}: the service does not offer base model '{baseModel}' (it offers: {string.Join(", ", models)}); set learner_base_model");
            if (resume is not null)
            {
                try
                {
                    await client.PostAsync("api/v1/get_info", new JsonObject { ["model_id"] = resume.ModelId }, cancellationToken);
                }
                catch (TrainingServiceException e)
                {
                    throw new TrainingServiceException($"{url}: the checkpoint's model '{resume.ModelId}' is gone from the service, so the run cannot continue on it ({e.Message})");
                }
                // The service may have stepped past the checkpoint before the crash: go back to the checkpoint's state.
                if (resume.TrainingPath is { } training)
                    await client.CallAsync("api/v1/load_weights", new JsonObject
                    {
                        ["model_id"] = resume.ModelId, ["path"] = training, ["optimizer"] = true, ["type"] = "load_weights",
                    }, cancellationToken);
                return new TinkerLearner(client, config, baseModel, resume);
            }
            JsonNode session = await client.PostAsync("api/v1/create_session", new JsonObject
            {
                ["tags"] = new JsonArray("rlef"), ["user_metadata"] = null, ["sdk_version"] = "rlef-csharp", ["type"] = "create_session",
            }, cancellationToken);
            string sessionId = session["session_id"]?.ToString() ?? throw new TrainingServiceException($"{url}: create_session answered no session_id");
            var request = new JsonObject
            {
                ["session_id"] = sessionId, ["model_seq_id"] = 0, ["base_model"] = baseModel, ["type"] = "create_model",
                ["lora_config"] = loraRank is int rank ? new JsonObject { ["rank"] = rank } : null,
            };
            JsonNode created = await client.CallAsync("api/v1/create_model", request, cancellationToken);
            string modelId = created["model_id"]?.ToString() ?? throw new TrainingServiceException($"{url}: create_model answered no model_id");
            return new TinkerLearner(client, config, baseModel, new TinkerState(modelId, null, 0));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One PPO update of the policy on the service. Returns the policy loss and its diagnostics as the in-process
    /// updater computes them (value terms 0: the service has no value network) and the service's gradient norm.
    /// </summary>
    public async Task<(PpoLossResult Loss, double GradNorm, float[] TokenLosses)> UpdateAsync(PpoMinibatch minibatch, double learningRate,
        CancellationToken cancellationToken)
    {
        var sequences = minibatch.Episodes.Select(e => new EpisodeSequence(e)).ToArray();
        // Reply token k of the minibatch (flat order) is predicted at input position replyAt[k] of datum replyDatum[k].
        var replyDatum = new int[minibatch.TokenCount];
        var replyAt = new int[minibatch.TokenCount];
        int k = 0;
        for (int e = 0; e < sequences.Length; e++)
            for (int t = 0; t < sequences[e].ReplyStarts.Length; t++)
                for (int j = 0; j < minibatch.Episodes[e].Turns[t].ReplyTokens.Length; j++)
                {
                    replyDatum[k] = e;
                    replyAt[k++] = sequences[e].ReplyStarts[t] + j - 1;
                }

        // 1. π_θ at the update's weights: the behaviour factor w = min(π_θ/π_b, 1) is a constant of the loss.
        JsonNode forward = await _client.CallAsync("api/v1/forward", new JsonObject
        {
            ["model_id"] = State.ModelId,
            ["forward_input"] = Input(sequences, "cross_entropy", null, null),
        }, cancellationToken);
        float[][] current = ReadLogProbs(forward, sequences);
        var logProbs = new float[minibatch.TokenCount];
        for (int i = 0; i < logProbs.Length; i++) logProbs[i] = current[replyDatum[i]][replyAt[i]];

        // 2. ppo with per-token inputs that give the in-process loss and gradient exactly (docs/tinker.md): the
        // service's ratio is exp(logπ_θ − logprobs) and its loss −min(ratio·A′, clip(ratio)·A′) per token, so the
        // run's per-token weight (1/N, or the sequence mean's) goes into A′, and the truncated factor w goes inside
        // the ratio (logprobs = logπ_old − log w, the paper's placement) or multiplies A′ (outside the clip).
        var oldInputs = sequences.Select(s => new float[s.Tokens.Length - 1]).ToArray();
        var advantages = sequences.Select(s => new float[s.Tokens.Length - 1]).ToArray();
        double n = minibatch.TokenNormaliser;
        double[]? weights = _config.Ppo.LossAggregation == LossAggregation.SequenceMean
            ? PpoMath.SequenceMeanWeights(minibatch.TurnTokenOffsets, minibatch.EffectiveTurnNormaliser)
            : null;
        bool inside = _config.Ppo.Truncation == TruncationPlacement.InsideRatio;
        for (int i = 0; i < logProbs.Length; i++)
        {
            double w = Math.Min(Math.Exp(logProbs[i] - (double)minibatch.BehaviourLogProbs[i]), 1.0);
            double weight = weights?[i] ?? 1.0 / n;
            oldInputs[replyDatum[i]][replyAt[i]] = inside ? (float)(minibatch.OldLogProbs[i] - Math.Log(w)) : minibatch.OldLogProbs[i];
            advantages[replyDatum[i]][replyAt[i]] = (float)((inside ? 1.0 : w) * weight * minibatch.Advantages[i]);
        }
        double eps = _config.Ppo.ClipEpsilon;
        // forward_backward and optim_step go out back to back (the service runs a model's calls in order), then both
        // are retrieved: one round trip of waiting instead of two. Should the first fail, the run stops, and --resume
        // loads the service's training state of the last checkpoint.
        string fbRequest = await _client.SubmitAsync("api/v1/forward_backward", new JsonObject
        {
            ["model_id"] = State.ModelId,
            ["forward_backward_input"] = Input(sequences, "ppo", oldInputs, advantages, new JsonObject
            {
                ["clip_low_threshold"] = 1 - eps, ["clip_high_threshold"] = 1 + eps,
            }),
        }, cancellationToken);
        // 3. optim_step with the run's AdamW settings.
        OptimizerConfig o = _config.Optimizer;
        string stepRequest = await _client.SubmitAsync("api/v1/optim_step", new JsonObject
        {
            ["model_id"] = State.ModelId,
            ["type"] = "optim_step",
            ["adam_params"] = new JsonObject
            {
                ["learning_rate"] = learningRate, ["beta1"] = o.Beta1, ["beta2"] = o.Beta2, ["eps"] = o.Epsilon,
                ["weight_decay"] = o.WeightDecay, ["grad_clip_norm"] = o.MaxGradNorm,
            },
        }, cancellationToken);
        JsonNode result = await _client.RetrieveAsync(fbRequest, "forward_backward", cancellationToken);
        var tokenLosses = new float[minibatch.TokenCount];
        var outputs = result["loss_fn_outputs"] as JsonArray ?? throw new TrainingServiceException($"{Url}: forward_backward answered no loss_fn_outputs");
        for (int i = 0; i < tokenLosses.Length; i++)
            tokenLosses[i] = (float)(outputs[replyDatum[i]]?["elementwise_loss"]?["data"]?[replyAt[i]]?.GetValue<double>()
                ?? throw new TrainingServiceException($"{Url}: forward_backward answered no elementwise_loss for datum {replyDatum[i]}"));
        JsonNode step = await _client.RetrieveAsync(stepRequest, "optim_step", cancellationToken);
        State = State with { ServiceSteps = State.ServiceSteps + 1 };
        double gradNorm = step["metrics"]?["grad_norm"]?.GetValue<double>() ?? double.NaN;

        // The diagnostics the in-process updater logs, from the same per-token quantities.
        PolicyLossResult policy = PpoMath.PolicyLoss(logProbs, minibatch.OldLogProbs, minibatch.BehaviourLogProbs, minibatch.Advantages,
            eps, minibatch.TokenNormaliser, _config.Ppo.Truncation, weights);
        double klReference = 0;
        for (int i = 0; i < logProbs.Length; i++) klReference += logProbs[i] - (double)minibatch.ReferenceLogProbs[i];
        double serviceLoss = tokenLosses.Sum(x => (double)x);
        var loss = new PpoLossResult(serviceLoss, 0, policy.DLogProb, [], policy.ApproxKlOld, klReference / n, policy.ClipFraction,
            policy.TruncatedFraction, 0, double.NaN);
        return (loss, gradNorm, tokenLosses);
    }

    /// <summary>Saves the weights for the sampler as <paramref name="name"/>; returns (and records) the tinker:// path.</summary>
    public async Task<string> SaveForSamplerAsync(string name, CancellationToken cancellationToken)
    {
        JsonNode saved = await _client.CallAsync("api/v1/save_weights_for_sampler", new JsonObject
        {
            ["model_id"] = State.ModelId, ["path"] = name, ["type"] = "save_weights_for_sampler",
        }, cancellationToken);
        string path = saved["path"]?.ToString() ?? throw new TrainingServiceException($"{Url}: save_weights_for_sampler answered no path");
        State = State with { SamplerPath = path };
        return path;
    }

    /// <summary>Saves the weights and the optimizer state on the service (save_weights) for a checkpoint of the run.</summary>
    public async Task<string> SaveTrainingStateAsync(string name, CancellationToken cancellationToken)
    {
        JsonNode saved = await _client.CallAsync("api/v1/save_weights", new JsonObject
        {
            ["model_id"] = State.ModelId, ["path"] = name, ["type"] = "save_weights",
        }, cancellationToken);
        string path = saved["path"]?.ToString() ?? throw new TrainingServiceException($"{Url}: save_weights answered no path");
        State = State with { TrainingPath = path };
        return path;
    }

    /// <summary>
    /// Log-probs of each sequence's tokens under the base model (result[i][t] = log p(s[t+1] | s[..t])), from the
    /// sampler's prompt log-probs: the reference ρ of the per-turn KL. Requests are kept in flight together.
    /// </summary>
    public async Task<float[][]> ReferenceLogProbsAsync(IReadOnlyList<int[]> sequences, CancellationToken cancellationToken)
    {
        var submitted = new List<Task<string>>();
        foreach (int[] s in sequences)
            submitted.Add(_client.SubmitAsync("api/v1/asample", new JsonObject
            {
                ["prompt"] = ModelInput(s), ["num_samples"] = 1, ["base_model"] = BaseModel, ["prompt_logprobs"] = true,
                ["sampling_params"] = new JsonObject { ["max_tokens"] = 1, ["temperature"] = 1.0, ["seed"] = 0 }, ["type"] = "sample",
            }, cancellationToken));
        var results = new float[sequences.Count][];
        for (int i = 0; i < results.Length; i++)
        {
            JsonNode answer = await _client.RetrieveAsync(await submitted[i], "reference log-probs (asample)", cancellationToken);
            var prompt = answer["prompt_logprobs"] as JsonArray
                ?? throw new TrainingServiceException($"{Url}: asample answered no prompt_logprobs (the service must support prompt_logprobs for the reference KL)");
            if (prompt.Count != sequences[i].Length)
                throw new TrainingServiceException($"{Url}: asample answered {prompt.Count} prompt log-probs for {sequences[i].Length} tokens");
            results[i] = prompt.Skip(1).Select(x => (float)(x?.GetValue<double>() ?? double.NaN)).ToArray();
        }
        return results;
    }

    internal static JsonObject ModelInput(IEnumerable<int> tokens) => new()
    {
        ["chunks"] = new JsonArray(new JsonObject { ["type"] = "encoded_text", ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()) }),
    };

    static JsonObject Tensor(IEnumerable<float> values, int count) => new()
    {
        ["data"] = new JsonArray(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray()), ["dtype"] = "float32", ["shape"] = new JsonArray(count),
    };

    static JsonObject Tensor(IEnumerable<int> values, int count) => new()
    {
        ["data"] = new JsonArray(values.Select(v => (JsonNode)v).ToArray()), ["dtype"] = "int64", ["shape"] = new JsonArray(count),
    };

    // A datum per episode: input = the sequence without its last token, target_tokens = the sequence shifted by one.
    static JsonObject Input(EpisodeSequence[] sequences, string lossFn, float[][]? logprobs, float[][]? advantages, JsonObject? config = null)
    {
        var data = new JsonArray();
        for (int e = 0; e < sequences.Length; e++)
        {
            int[] s = sequences[e].Tokens;
            int n = s.Length - 1;
            var inputs = new JsonObject { ["target_tokens"] = Tensor(s.Skip(1), n) };
            if (lossFn == "cross_entropy") inputs["weights"] = Tensor(new float[n], n);
            if (logprobs is not null) inputs["logprobs"] = Tensor(logprobs[e], n);
            if (advantages is not null) inputs["advantages"] = Tensor(advantages[e], n);
            data.Add(new JsonObject { ["model_input"] = ModelInput(s.Take(n)), ["loss_fn_inputs"] = inputs });
        }
        return new JsonObject { ["data"] = data, ["loss_fn"] = lossFn, ["loss_fn_config"] = config };
    }

    float[][] ReadLogProbs(JsonNode output, EpisodeSequence[] sequences)
    {
        var outputs = output["loss_fn_outputs"] as JsonArray;
        if (outputs is null || outputs.Count != sequences.Length)
            throw new TrainingServiceException($"{Url}: forward answered {outputs?.Count ?? 0} outputs for {sequences.Length} datums");
        return outputs.Select((o, i) =>
        {
            var data = o?["logprobs"]?["data"] as JsonArray ?? throw new TrainingServiceException($"{Url}: forward answered no logprobs for datum {i}");
            if (data.Count != sequences[i].Tokens.Length - 1)
                throw new TrainingServiceException($"{Url}: forward answered {data.Count} log-probs for datum {i} of {sequences[i].Tokens.Length - 1} targets");
            return data.Select(x => (float)x!.GetValue<double>()).ToArray();
        }).ToArray();
    }

    public void Dispose() => _client.Dispose();
}
