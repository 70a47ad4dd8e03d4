using System.Diagnostics;
using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;

namespace Rlef.Serving.Model;

/// <summary>
/// SGLang's native endpoints (docs/inference-servers.md §SGLang, GenerateReqInput and UpdateWeightFromDiskReqInput
/// of python/sglang/srt/managers/io_struct.py): <c>POST /generate</c> with <c>input_ids</c> or <c>text</c> (one or a
/// batch), <c>sampling_params</c> and <c>return_logprob</c>; <c>POST /update_weights_from_disk</c>. Log-probs are
/// the raw model's (SGLang's SGLANG_RETURN_ORIGINAL_LOGPROB=1 behaviour), the seed is <c>sampling_seed</c>.
/// Sampling parameters this engine does not implement are refused with a 400 naming them.
/// </summary>
public static class SglangRoutes
{
    static readonly HashSet<string> KnownSamplingParams =
    [
        "max_new_tokens", "temperature", "top_p", "top_k", "stop", "stop_token_ids", "ignore_eos", "skip_special_tokens",
        "no_stop_trim", "sampling_seed", "spaces_between_special_tokens", "n", "min_p", "frequency_penalty",
        "presence_penalty", "repetition_penalty", "min_new_tokens", "json_schema", "regex", "ebnf", "stream_interval",
    ];

    public static async Task<JsonNode> GenerateAsync(JsonObject body, ServedModel model, CancellationToken cancellationToken)
    {
        if (RequestFields.Flag(body, "stream", false)) throw new BadRequestException("'stream' is not supported by rlef serve model");
        if (RequestFields.Integer(body, "logprob_start_len", -1, -1, int.MaxValue) >= 0)
            throw new BadRequestException("'logprob_start_len' >= 0 (prompt log-probs) is not supported; omit it or give -1");
        if (RequestFields.Integer(body, "top_logprobs_num", 0, 0, 20) > 0)
            throw new BadRequestException("'top_logprobs_num' > 0 is not supported (only the sampled tokens' log-probs)");

        bool batch;
        List<int[]> prompts;
        if (body["input_ids"] is JsonArray ids && body["text"] is null)
        {
            batch = ids.Count > 0 && ids[0] is JsonArray;
            prompts = batch ? ids.Select((p, i) => RequestFields.TokenIds(p, $"input_ids[{i}]", model.VocabSize)).ToList()
                : [RequestFields.TokenIds(ids, "input_ids", model.VocabSize)];
        }
        else if (body["text"] is JsonNode text && body["input_ids"] is null)
        {
            batch = text is JsonArray;
            var texts = batch ? ((JsonArray)text).Select((t, i) => t is JsonValue v && v.TryGetValue(out string? s) ? s
                    : throw new BadRequestException($"'text'[{i}] must be a string")).ToList()
                : [RequestFields.Text(body, "text")!];
            prompts = texts.Select(t => model.Tokenizer.Encode(t)).ToList();
        }
        else throw new BadRequestException("give exactly one of 'input_ids' and 'text'");
        if (prompts.Count == 0) throw new BadRequestException("the batch is empty");
        if (prompts.Count > model.Limits.MaxPromptsPerRequest)
            throw new BadRequestException($"the batch holds {prompts.Count} prompts; at most {model.Limits.MaxPromptsPerRequest} per request");

        List<JsonObject> samplingParams = body["sampling_params"] switch
        {
            null => prompts.Select(_ => new JsonObject()).ToList(),
            JsonObject one => prompts.Select(_ => one).ToList(),
            JsonArray many when many.Count == prompts.Count => many.Select((p, i) => p as JsonObject
                ?? throw new BadRequestException($"'sampling_params'[{i}] must be an object")).ToList(),
            _ => throw new BadRequestException("'sampling_params' must be an object or a list with one object per prompt"),
        };
        bool returnLogprob = body["return_logprob"] switch
        {
            null => false,
            JsonArray flags => flags.All(f => f?.GetValue<bool>() == true),
            _ => RequestFields.Flag(body, "return_logprob", false),
        };
        bool textInLogprobs = RequestFields.Flag(body, "return_text_in_logprobs", false);

        var clock = Stopwatch.StartNew();
        var jobs = new Task<Generation>[prompts.Count];
        var parameters = new (SamplingOptions Options, bool SkipSpecial, bool NoStopTrim)[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            parameters[i] = Sampling(samplingParams[i], model, prompts[i].Length);
            jobs[i] = model.GenerateAsync(prompts[i], parameters[i].Options, cancellationToken);
        }
        Generation[] generations = await Task.WhenAll(jobs);

        var answers = new JsonArray();
        for (int i = 0; i < generations.Length; i++)
        {
            Generation g = generations[i];
            var (options, skipSpecial, noStopTrim) = parameters[i];
            (string text, string? matched) = ReplyText.Decode(model.Tokenizer, g, skipSpecial, options.StopStrings, includeStop: noStopTrim);
            ReplyEnd end = ReplyText.EndOf(g);
            JsonObject finish = end.Stopped
                ? new JsonObject { ["type"] = "stop", ["matched"] = matched is not null ? matched : end.MatchedToken }
                : new JsonObject { ["type"] = "length", ["length"] = g.Tokens.Length };
            var meta = new JsonObject
            {
                ["id"] = Guid.NewGuid().ToString("N"),
                ["finish_reason"] = finish,
                ["prompt_tokens"] = prompts[i].Length,
                ["completion_tokens"] = g.Tokens.Length,
                ["cached_tokens"] = 0,
                ["weight_version"] = model.Scheduler.WeightVersion,
                ["e2e_latency"] = clock.Elapsed.TotalSeconds,
            };
            if (returnLogprob)
            {
                var output = new JsonArray();
                for (int k = 0; k < g.Tokens.Length; k++)
                    output.Add(new JsonArray(g.LogProbs[k], g.Tokens[k], textInLogprobs ? model.Tokenizer.Decode([g.Tokens[k]]) : null));
                meta["input_token_logprobs"] = new JsonArray();
                meta["output_token_logprobs"] = output;
            }
            answers.Add(new JsonObject
            {
                ["text"] = text,
                ["output_ids"] = new JsonArray(g.Tokens.Select(t => (JsonNode)t).ToArray()),
                ["meta_info"] = meta,
            });
        }
        return batch ? answers : answers[0]!.DeepClone();
    }

    static (SamplingOptions Options, bool SkipSpecial, bool NoStopTrim) Sampling(JsonObject p, ServedModel model, int promptTokens)
    {
        foreach (var (key, value) in p)
            if (!KnownSamplingParams.Contains(key)) throw new BadRequestException($"sampling_params: unknown parameter '{key}'");
        void Neutral(string name, double neutral)
        {
            if (RequestFields.Number(p, name, neutral, double.MinValue, double.MaxValue) != neutral)
                throw new BadRequestException($"sampling_params.{name} is not supported by rlef serve model (only {neutral})");
        }
        Neutral("n", 1);
        Neutral("min_p", 0);
        Neutral("frequency_penalty", 0);
        Neutral("presence_penalty", 0);
        Neutral("repetition_penalty", 1);
        Neutral("min_new_tokens", 0);
        foreach (string constraint in new[] { "json_schema", "regex", "ebnf" })
            if (p[constraint] is not null) throw new BadRequestException($"sampling_params.{constraint} is not supported by rlef serve model");

        long requested = RequestFields.Integer(p, "max_new_tokens", 128, 1, int.MaxValue);
        int max = model.CheckLengths(promptTokens, requested, "sampling_params.max_new_tokens");
        long topK = RequestFields.Integer(p, "top_k", -1, -1, int.MaxValue);
        var stopIds = new List<int>();
        if (!RequestFields.Flag(p, "ignore_eos", false)) stopIds.AddRange(model.EosIds);
        if (p["stop_token_ids"] is JsonNode ids) stopIds.AddRange(RequestFields.TokenIds(ids, "sampling_params.stop_token_ids", model.VocabSize));
        long seed = RequestFields.Integer(p, "sampling_seed", ServedModel.RandomSeed(), long.MinValue, long.MaxValue);
        var options = new SamplingOptions
        {
            Temperature = (float)RequestFields.Number(p, "temperature", 1.0, 0, 100),
            TopP = (float)RequestFields.Number(p, "top_p", 1.0, 1e-9, 1),
            TopK = topK <= 0 ? 0 : (int)topK,
            MaxTokens = max,
            StopTokenIds = stopIds.Distinct().ToArray(),
            StopStrings = RequestFields.Stops(p, "stop"),
            Seed = OpenAiRoutes.SeedOf(seed),
        };
        return (options, RequestFields.Flag(p, "skip_special_tokens", true), RequestFields.Flag(p, "no_stop_trim", false));
    }

    /// <summary>Loads the weights of <c>model_path</c> between batches; answers SGLang's {success, message, num_paused_requests}.</summary>
    public static async Task<(int Status, JsonObject Body)> UpdateWeightsFromDiskAsync(JsonObject body, ServedModel model)
    {
        string path = RequestFields.Text(body, "model_path") ?? throw new BadRequestException("'model_path' is required");
        string? format = RequestFields.Text(body, "load_format");
        if (format is not (null or "auto" or "safetensors"))
            throw new BadRequestException($"'load_format' {format} is not supported (auto or safetensors)");
        string? version = RequestFields.Text(body, "weight_version");
        try
        {
            await model.Scheduler.ReloadAsync(path, version);
            return (200, new JsonObject { ["success"] = true, ["message"] = "Succeeded to update model weights.", ["num_paused_requests"] = 0 });
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or FormatException)
        {
            return (400, new JsonObject { ["success"] = false, ["message"] = $"Failed to update weights from {path}: {e.Message}", ["num_paused_requests"] = 0 });
        }
    }
}
