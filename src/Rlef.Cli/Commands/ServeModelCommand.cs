using System.CommandLine;
using Rlef.Serving.Model;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef serve model --model DIR [--tokenizer SPEC] [--listen 127.0.0.1:PORT] [--token T] [--insecure] [--name NAME] [--max-batch N]
/// [--max-new-tokens N] [--max-prompt-tokens N] [--queue N]`: the engine behind vLLM's OpenAI-compatible and
/// SGLang's native endpoints (docs/inference-servers.md), for actors of `rlef train` and for `rlef eval --policy
/// openai:URL/v1#NAME`.
/// </summary>
public static class ServeModelCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json with a chat template)", Required = true };
        var serve = new ServeOptions("127.0.0.1:8100", "Bearer token every request must carry (required off loopback unless --insecure)");
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Tokenizer when not the directory's own: \"byte\" or a tokenizer.json path" };
        var name = new Option<string?>("--name") { Description = "Served model name (the \"model\" field; default: the directory's name)" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences sampled in one batch", DefaultValueFactory = _ => 32 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Cap on max_tokens / max_new_tokens", DefaultValueFactory = _ => 4096 };
        var maxPrompt = new Option<int?>("--max-prompt-tokens") { Description = "Cap on prompt tokens (default: the context length − 1)" };
        var queue = new Option<int>("--queue") { Description = "Requests waiting beyond the running ones before 429", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body (413 beyond)", DefaultValueFactory = _ => 8L << 20 };

        var command = new Command("model", "Serve a model over HTTP: /v1/models, /v1/completions, /v1/chat/completions (vLLM's OpenAI-compatible API), /generate and /update_weights_from_disk (SGLang's), /health, /metrics.")
        {
            model, tokenizer, serve.Listen, serve.Token, serve.Insecure, name, maxBatch, maxNew, maxPrompt, queue, maxBody,
        };
        command.SetAction((parse, cancellationToken) => ServeOptions.RunAsync("rlef serve model", () =>
            {
                if (parse.GetValue(maxBatch) < 1 || parse.GetValue(maxNew) < 1 || parse.GetValue(queue) < 0)
                    throw new ArgumentException("--max-batch and --max-new-tokens must be >= 1, --queue >= 0");
                var limits = new ModelServingLimits
                {
                    MaxBatch = parse.GetValue(maxBatch),
                    MaxNewTokens = parse.GetValue(maxNew),
                    MaxPromptTokens = parse.GetValue(maxPrompt),
                    QueueCapacity = parse.GetValue(queue),
                };
                return ModelServer.Create(parse.GetValue(model)!, serve.ToServerOptions(parse, "rlef serve model", parse.GetValue(maxBody)),
                    limits, parse.GetValue(name), parse.GetValue(tokenizer));
            },
            server => $"serving '{server.Model.Name}' ({server.Model.ContextLength}-token context)",
            server => server.Host, cancellationToken));
        return command;
    }
}
