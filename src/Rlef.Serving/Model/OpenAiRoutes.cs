using System.Text.Json.Nodes;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;

namespace Rlef.Serving.Model;

/// <summary>
/// The OpenAI-compatible endpoints as vLLM serves them (docs/inference-servers.md §vLLM, the request and response
/// models of vllm/entrypoints/openai/completion/protocol.py): <c>GET /v1/models</c>, <c>POST /v1/completions</c>
/// (token-id or text prompts, <c>logprobs</c>, <c>return_tokens_as_token_ids</c>, <c>return_token_ids</c>, per-request
/// <c>seed</c>) and <c>POST /v1/chat/completions</c> (the model's chat format, <c>continue_final_message</c>).
/// Options this engine cannot honour exactly (streaming, n > 1, penalties, beam search, …) are refused with a 400
/// naming them, never silently ignored. Log-probs are the sampled tokens' under the raw model distribution (vLLM's
/// default raw_logprobs mode); alternatives are not computed, so top_logprobs entries are null / empty.
/// </summary>
public static class OpenAiRoutes
{
    public static JsonObject Models(ServedModel model) => new()
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject
        {
            ["id"] = model.Name,
            ["object"] = "model",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["owned_by"] = "rlef",
            ["root"] = model.Name,
            ["max_model_len"] = model.ContextLength,
        }),
    };

    // Fields that change the result and that this engine does not implement: refused unless at their neutral value.
    static void RefuseUnsupported(JsonObject body)
    {
        void Neutral(string name, Func<JsonNode, bool> isNeutral)
        {
            if (body.TryGetPropertyValue(name, out JsonNode? v) && v is not null && !isNeutral(v))
                throw new BadRequestException($"'{name}' is not supported by rlef serve model (got {v.ToJsonString()})");
        }
        static bool Is(JsonNode v, double x) => v is JsonValue j && j.TryGetValue(out double d) && d == x;
        static bool False(JsonNode v) => v is JsonValue j && j.TryGetValue(out bool b) && !b;
        Neutral("stream", False);
        Neutral("echo", False);
        Neutral("n", v => Is(v, 1));
        Neutral("best_of", v => Is(v, 1));
        Neutral("use_beam_search", False);
        Neutral("presence_penalty", v => Is(v, 0));
        Neutral("frequency_penalty", v => Is(v, 0));
        Neutral("repetition_penalty", v => Is(v, 1));
        Neutral("min_p", v => Is(v, 0));
        Neutral("min_tokens", v => Is(v, 0));
        Neutral("logit_bias", v => v is JsonObject o && o.Count == 0);
        Neutral("prompt_logprobs", v => Is(v, 0));
        Neutral("suffix", v => v is JsonValue s && s.TryGetValue(out string? t) && t.Length == 0);
        Neutral("response_format", v => v is JsonObject o && o["type"]?.GetValue<string>() == "text");
    }

    static void CheckModel(JsonObject body, ServedModel model)
    {
        string? name = RequestFields.Text(body, "model");
        if (name is not null && name != model.Name)
            throw new NotFoundException($"The model `{name}` does not exist.");
    }

    static SamplingOptions Sampling(JsonObject body, int maxTokens, IReadOnlyList<int> stopIds, IReadOnlyList<string> stops)
    {
        long topK = RequestFields.Integer(body, "top_k", 0, -1, int.MaxValue);
        long seed = RequestFields.Integer(body, "seed", ServedModel.RandomSeed(), long.MinValue, long.MaxValue);
        return new SamplingOptions
        {
            Temperature = (float)RequestFields.Number(body, "temperature", 1.0, 0, 100),
            TopP = (float)RequestFields.Number(body, "top_p", 1.0, 1e-9, 1),
            TopK = topK <= 0 ? 0 : (int)topK,
            MaxTokens = maxTokens,
            StopTokenIds = stopIds,
            StopStrings = stops,
            Seed = SeedOf(seed),
        };
    }

    /// <summary>A 64-bit request seed as the engine's 32-bit stream seed: int seeds as they are, larger ones folded.</summary>
    public static int SeedOf(long seed) => seed is >= int.MinValue and <= int.MaxValue ? (int)seed : unchecked((int)seed ^ (int)(seed >> 32));

    static IReadOnlyList<int> StopIds(JsonObject body, ServedModel model, IEnumerable<int> extra)
    {
        var ids = new List<int>();
        if (!RequestFields.Flag(body, "ignore_eos", false)) ids.AddRange(model.EosIds);
        ids.AddRange(extra);
        if (body["stop_token_ids"] is JsonNode node) ids.AddRange(RequestFields.TokenIds(node, "stop_token_ids", model.VocabSize));
        return ids.Distinct().ToArray();
    }

    // ---------------------------------------------------------------- /v1/completions

    public static async Task<JsonObject> CompletionsAsync(JsonObject body, ServedModel model, CancellationToken cancellationToken)
    {
        CheckModel(body, model);
        RefuseUnsupported(body);
        List<int[]> prompts = Prompts(body, model);
        long? requested = body["max_tokens"] is null ? 16 : RequestFields.Integer(body, "max_tokens", 16, 1, int.MaxValue);
        IReadOnlyList<string> stops = RequestFields.Stops(body, "stop");
        IReadOnlyList<int> stopIds = StopIds(body, model, []);
        bool hasLogprobs = body["logprobs"] is not null;
        RequestFields.Integer(body, "logprobs", 0, 0, 20);
        bool asIds = RequestFields.Flag(body, "return_tokens_as_token_ids", false);
        bool returnIds = RequestFields.Flag(body, "return_token_ids", false);
        bool skipSpecial = RequestFields.Flag(body, "skip_special_tokens", true);
        bool includeStop = RequestFields.Flag(body, "include_stop_str_in_output", false);

        var jobs = prompts.Select(p =>
        {
            int max = model.CheckLengths(p.Length, requested, "max_tokens");
            return model.GenerateAsync(p, Sampling(body, max, stopIds, stops), cancellationToken);
        }).ToArray();
        Generation[] generations = await Task.WhenAll(jobs);

        var choices = new JsonArray();
        long completionTokens = 0;
        for (int i = 0; i < generations.Length; i++)
        {
            Generation g = generations[i];
            completionTokens += g.Tokens.Length;
            (string text, string? matched) = ReplyText.Decode(model.Tokenizer, g, skipSpecial, stops, includeStop);
            ReplyEnd end = ReplyText.EndOf(g);
            var choice = new JsonObject
            {
                ["index"] = i,
                ["text"] = text,
                ["logprobs"] = hasLogprobs ? CompletionLogprobs(model.Tokenizer, g, asIds) : null,
                ["finish_reason"] = end.Stopped ? "stop" : "length",
                // vLLM: the stop token id (not for EOS) or the stop string that ended the reply, else null.
                ["stop_reason"] = matched is not null ? matched
                    : end.MatchedToken is int t && !model.EosIds.Contains(t) ? t : null,
            };
            if (returnIds)
            {
                choice["token_ids"] = Ids(g.Tokens);
                choice["prompt_token_ids"] = Ids(prompts[i]);
            }
            choices.Add(choice);
        }
        long promptTokens = prompts.Sum(p => (long)p.Length);
        return new JsonObject
        {
            ["id"] = "cmpl-" + Guid.NewGuid().ToString("N"),
            ["object"] = "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model.Name,
            ["choices"] = choices,
            ["usage"] = Usage(promptTokens, completionTokens),
        };
    }

    // prompt: [ids] | [[ids], …] | "text" | ["text", …]
    static List<int[]> Prompts(JsonObject body, ServedModel model)
    {
        JsonNode prompt = body["prompt"] ?? throw new BadRequestException("'prompt' is required");
        bool addSpecial = RequestFields.Flag(body, "add_special_tokens", true);
        int[] EncodeText(string text) => addSpecial && model.Tokenizer.BosId is int bos ? [bos, .. model.Tokenizer.Encode(text)] : model.Tokenizer.Encode(text);
        if (prompt is JsonValue v && v.TryGetValue(out string? single)) return [EncodeText(single)];
        if (prompt is not JsonArray array || array.Count == 0) throw new BadRequestException("'prompt' must be a string, a list of token ids, or a non-empty list of either");
        if (array[0] is JsonValue first && first.TryGetValue(out int _)) return [RequestFields.TokenIds(array, "prompt", model.VocabSize)];
        if (array.Count > model.Limits.MaxPromptsPerRequest)
            throw new BadRequestException($"'prompt' holds {array.Count} prompts; at most {model.Limits.MaxPromptsPerRequest} per request");
        return array.Select((p, i) => p switch
        {
            JsonArray ids => RequestFields.TokenIds(ids, $"prompt[{i}]", model.VocabSize),
            JsonValue s when s.TryGetValue(out string? text) => EncodeText(text),
            _ => throw new BadRequestException($"'prompt'[{i}] must be a string or a list of token ids"),
        }).ToList();
    }

    static JsonObject CompletionLogprobs(ITokenizer tokenizer, Generation g, bool asIds)
    {
        var tokens = new JsonArray();
        var logprobs = new JsonArray();
        var top = new JsonArray();
        var offsets = new JsonArray();
        int offset = 0;
        for (int k = 0; k < g.Tokens.Length; k++)
        {
            string token = ReplyText.TokenString(tokenizer, g.Tokens[k], asIds);
            tokens.Add(token);
            logprobs.Add(g.LogProbs[k]);
            top.Add(null); // alternatives are not computed (see the class summary)
            offsets.Add(offset);
            offset += asIds ? tokenizer.Decode([g.Tokens[k]]).Length : token.Length;
        }
        return new JsonObject { ["text_offset"] = offsets, ["token_logprobs"] = logprobs, ["tokens"] = tokens, ["top_logprobs"] = top };
    }

    // ---------------------------------------------------------------- /v1/chat/completions

    public static async Task<JsonObject> ChatAsync(JsonObject body, ServedModel model, CancellationToken cancellationToken)
    {
        CheckModel(body, model);
        RefuseUnsupported(body);
        if (body["tools"] is JsonArray { Count: > 0 }) throw new BadRequestException("'tools' is not supported by rlef serve model");
        List<ChatMessage> messages = Messages(body);
        bool continueFinal = RequestFields.Flag(body, "continue_final_message", false);
        bool generationPrompt = RequestFields.Flag(body, "add_generation_prompt", true);
        if (continueFinal && generationPrompt && body["add_generation_prompt"] is not null)
            throw new BadRequestException("'continue_final_message' and 'add_generation_prompt' cannot both be true");
        int[] prompt;
        try
        {
            if (continueFinal)
            {
                if (messages[^1].Role != "assistant") throw new BadRequestException("'continue_final_message' needs a final assistant message");
                // The prefix continues the assistant turn the chat format opens (the way the trainer and
                // `rlef eval --policy model:DIR` prompt the same model).
                prompt = [.. model.Format.EncodeChat(messages[..^1], addGenerationPrompt: true), .. model.Tokenizer.Encode(messages[^1].Content)];
            }
            else prompt = model.Format.EncodeChat(messages, generationPrompt);
        }
        catch (ArgumentException e)
        {
            throw new BadRequestException($"'messages': {e.Message}");
        }
        long? requested = body["max_completion_tokens"] is not null ? RequestFields.Integer(body, "max_completion_tokens", 0, 1, int.MaxValue)
            : body["max_tokens"] is not null ? RequestFields.Integer(body, "max_tokens", 0, 1, int.MaxValue) : null;
        int max = model.CheckLengths(prompt.Length, requested, body["max_completion_tokens"] is not null ? "max_completion_tokens" : "max_tokens");
        IReadOnlyList<string> stops = RequestFields.Stops(body, "stop");
        SamplingOptions options = Sampling(body, max, StopIds(body, model, model.Format.StopIds), stops);
        bool logprobs = RequestFields.Flag(body, "logprobs", false);
        RequestFields.Integer(body, "top_logprobs", 0, 0, 20);
        bool asIds = RequestFields.Flag(body, "return_tokens_as_token_ids", false);

        Generation g = await model.GenerateAsync(prompt, options, cancellationToken);
        (string text, string? matched) = ReplyText.Decode(model.Tokenizer, g, skipSpecialTokens: true, stops, includeStop: false);
        ReplyEnd end = ReplyText.EndOf(g);
        JsonObject? lp = null;
        if (logprobs)
        {
            var content = new JsonArray();
            for (int k = 0; k < g.Tokens.Length; k++)
                content.Add(new JsonObject
                {
                    ["token"] = ReplyText.TokenString(model.Tokenizer, g.Tokens[k], asIds),
                    ["logprob"] = g.LogProbs[k],
                    ["bytes"] = new JsonArray(ReplyText.TokenBytes(model.Tokenizer, g.Tokens[k]).Select(b => (JsonNode)(int)b).ToArray()),
                    ["top_logprobs"] = new JsonArray(),
                });
            lp = new JsonObject { ["content"] = content };
        }
        return new JsonObject
        {
            ["id"] = "chatcmpl-" + Guid.NewGuid().ToString("N"),
            ["object"] = "chat.completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = model.Name,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text },
                ["logprobs"] = lp,
                ["finish_reason"] = end.Stopped ? "stop" : "length",
                ["stop_reason"] = matched is not null ? matched : end.MatchedToken is int t && !model.EosIds.Contains(t) && !model.Format.StopIds.Contains(t) ? t : null,
            }),
            ["usage"] = Usage(prompt.Length, g.Tokens.Length),
        };
    }

    static List<ChatMessage> Messages(JsonObject body)
    {
        if (body["messages"] is not JsonArray array || array.Count == 0) throw new BadRequestException("'messages' must be a non-empty list");
        var messages = new List<ChatMessage>(array.Count);
        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject m) throw new BadRequestException($"'messages'[{i}] must be an object");
            string role = RequestFields.Text(m, "role") ?? throw new BadRequestException($"'messages'[{i}].role is required");
            if (role is not ("system" or "user" or "assistant"))
                throw new BadRequestException($"'messages'[{i}].role '{role}' is not supported (system, user, assistant)");
            string content = m["content"] switch
            {
                JsonValue v when v.TryGetValue(out string? s) => s,
                JsonArray parts => string.Concat(parts.Select((p, k) => p is JsonObject o && o["type"]?.GetValue<string>() == "text"
                    ? o["text"]?.GetValue<string>() ?? "" : throw new BadRequestException($"'messages'[{i}].content[{k}]: only text parts are supported"))),
                null => "",
                _ => throw new BadRequestException($"'messages'[{i}].content must be a string or a list of text parts"),
            };
            messages.Add(new ChatMessage(role, content));
        }
        return messages;
    }

    static JsonObject Usage(long prompt, long completion) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
    };

    static JsonArray Ids(IEnumerable<int> ids) => new(ids.Select(i => (JsonNode)i).ToArray());
}

/// <summary>A request that names something the server does not have (404, e.g. another model).</summary>
public sealed class NotFoundException(string message) : Exception(message);
