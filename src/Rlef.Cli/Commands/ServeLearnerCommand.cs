using System.CommandLine;
using Rlef.Serving.Learner;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef serve learner --model DIR [--listen 127.0.0.1:PORT] [--token T] [--insecure] [--name NAME] [--state DIR]
/// [--queue N] [--max-models N] [--micro-batch-tokens N]`: the Tinker API subset of docs/tinker.md over the engine,
/// for `rlef train` with `learner: tinker:URL` and for checking a Tinker-compatible service against ours.
/// </summary>
public static class ServeLearnerCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model directory to train (config.json, *.safetensors)", Required = true };
        var serve = new ServeOptions("127.0.0.1:8200", "Token every request must carry as X-API-Key or Authorization: Bearer (required off loopback unless --insecure)");
        var name = new Option<string?>("--name") { Description = "The base model's name clients give as base_model (default: the directory's name)" };
        var state = new Option<string?>("--state") { Description = "Directory for weights saved for the sampler (default: a folder under the system temp)" };
        var queue = new Option<int>("--queue") { Description = "Calls waiting for the worker before 429", DefaultValueFactory = _ => 256 };
        var maxModels = new Option<int>("--max-models") { Description = "Most models create_model may create", DefaultValueFactory = _ => 4 };
        var microBatch = new Option<int>("--micro-batch-tokens") { Description = "Padded tokens per engine batch in forward_backward (the trainer's engine.micro_batch_tokens)", DefaultValueFactory = _ => 16384 };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body (413 beyond)", DefaultValueFactory = _ => 256L << 20 };

        var command = new Command("learner", "Serve a model for training over the Tinker API (docs/tinker.md): create_model, forward, forward_backward (cross_entropy, importance_sampling, ppo), optim_step, save_weights_for_sampler, asample, retrieve_future, /health, /metrics.")
        {
            model, serve.Listen, serve.Token, serve.Insecure, name, state, queue, maxModels, microBatch, maxBody,
        };
        command.SetAction((parse, cancellationToken) => ServeOptions.RunAsync("rlef serve learner", () =>
            {
                if (parse.GetValue(queue) < 1 || parse.GetValue(maxModels) < 1 || parse.GetValue(microBatch) < 1)
                    throw new ArgumentException("--queue, --max-models and --micro-batch-tokens must be >= 1");
                var limits = new LearnerLimits
                {
                    QueueCapacity = parse.GetValue(queue),
                    MaxModels = parse.GetValue(maxModels),
                    MicroBatchTokens = parse.GetValue(microBatch),
                };
                return LearnerServer.Create(parse.GetValue(model)!, serve.ToServerOptions(parse, "rlef serve learner", parse.GetValue(maxBody)),
                    limits, parse.GetValue(name), parse.GetValue(state));
            },
            server => $"training '{server.BaseName}' ({server.Base.ParameterCount} parameters); sampler weights in {server.StateDirectory}",
            server => server.Host, cancellationToken));
        return command;
    }
}
