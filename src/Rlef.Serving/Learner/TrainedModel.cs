using System.Text.Json.Nodes;
using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Serving.Model;

namespace Rlef.Serving.Learner;

/// <summary>
/// One model created by create_model: full-parameter weights (a copy of the base model; LoRA is not used, see
/// docs/tinker.md), gradients accumulated by forward_backward until optim_step, and its AdamW. Not thread-safe:
/// the <see cref="LearnerQueue"/> runs one operation at a time.
/// </summary>
public sealed class TrainedModel
{
    readonly int _microBatchTokens;
    AdamW? _optimizer;
    AdamParams? _optimizerParams;

    public TrainedModel(string id, string baseModel, LlamaModel weights, int microBatchTokens)
    {
        Id = id;
        BaseModel = baseModel;
        Weights = weights;
        _microBatchTokens = microBatchTokens;
    }

    public string Id { get; }
    public string BaseModel { get; }
    public LlamaModel Weights { get; }
    /// <summary>optim_step calls applied so far (a client checks it to know whether a retried step was applied).</summary>
    public long Step { get; private set; }
    /// <summary>Datums whose gradients are waiting for the next optim_step.</summary>
    public long PendingDatums { get; private set; }

    /// <summary>
    /// forward (<paramref name="backward"/> false) or forward_backward: log-probs of every target token, the loss per
    /// token, and (backward) the gradients added to the weights' accumulators. Datums are packed in order into
    /// right-padded batches of at most the micro-batch token budget, as the in-process PPO updater packs episodes.
    /// </summary>
    public JsonObject ForwardBackward(IReadOnlyList<Datum> data, string lossFn, double clipLow, double clipHigh, bool backward)
    {
        var outputs = new JsonObject[data.Count];
        double lossSum = 0;
        foreach (var (first, count) in MicroBatches.Groups(data.Select(d => d.Input.Length).ToArray(), _microBatchTokens))
        {
            int seqLen = data.Skip(first).Take(count).Max(d => d.Input.Length);
            var tokens = new int[count * seqLen];
            var targets = new int[count * seqLen];
            var scored = new bool[count * seqLen];
            for (int b = 0; b < count; b++)
            {
                Datum d = data[first + b];
                d.Input.CopyTo(tokens, b * seqLen);
                d.Targets.CopyTo(targets, b * seqLen);
                scored.AsSpan(b * seqLen, d.Input.Length).Fill(true);
            }
            var logProbs = new float[count * seqLen];
            Weights.ForwardLogProbs(tokens, targets, count, seqLen, logProbs, scored);
            var dLogProbs = new float[count * seqLen];
            for (int b = 0; b < count; b++)
            {
                Datum d = data[first + b];
                int n = d.Input.Length;
                var elementwise = new float[n];
                LossFunctions.Compute(lossFn, logProbs.AsSpan(b * seqLen, n), d.LossInputs, clipLow, clipHigh, elementwise, dLogProbs.AsSpan(b * seqLen, n));
                foreach (float e in elementwise) lossSum += e;
                outputs[first + b] = new JsonObject
                {
                    ["logprobs"] = TinkerWire.TensorJson(logProbs.AsSpan(b * seqLen, n).ToArray()),
                    ["elementwise_loss"] = TinkerWire.TensorJson(elementwise),
                };
            }
            if (backward) Weights.BackwardLogProbs(dLogProbs);
        }
        if (backward) PendingDatums += data.Count;
        return new JsonObject
        {
            ["loss_fn_output_type"] = "ArrayRecord",
            ["loss_fn_outputs"] = new JsonArray(outputs),
            ["metrics"] = new JsonObject { ["loss:sum"] = lossSum },
        };
    }

    /// <summary>optim_step: clip the accumulated gradient's global norm (when asked), one AdamW step, zero the gradients.</summary>
    public JsonObject OptimStep(AdamParams adam)
    {
        if (_optimizer is null)
        {
            _optimizer = new AdamW(Weights.Parameters, new AdamWOptions
            {
                Beta1 = adam.Beta1, Beta2 = adam.Beta2, Epsilon = adam.Eps, WeightDecay = adam.WeightDecay,
            });
            _optimizerParams = adam;
        }
        else if (_optimizerParams is { } p && (p.Beta1 != adam.Beta1 || p.Beta2 != adam.Beta2 || p.Eps != adam.Eps || p.WeightDecay != adam.WeightDecay))
            throw new BadRequestException("'adam_params': beta1, beta2, eps and weight_decay cannot change between steps of one model on rlef serve learner (only learning_rate can)");
        double norm = adam.GradClipNorm > 0
            ? Gradients.ClipByGlobalNorm(Weights.Parameters, adam.GradClipNorm)
            : Gradients.GlobalNorm(Weights.Parameters);
        // A non-finite gradient would poison the weights and the moments: skip the step, as the in-process updater does.
        bool applied = double.IsFinite(norm);
        if (applied) _optimizer.Update(adam.LearningRate);
        Weights.ZeroGrad();
        PendingDatums = 0;
        Step++;
        return new JsonObject
        {
            ["metrics"] = new JsonObject
            {
                ["grad_norm"] = double.IsFinite(norm) ? norm : -1,
                ["learning_rate"] = adam.LearningRate,
                ["step"] = Step,
                ["applied"] = applied ? 1 : 0,
            },
        };
    }

    /// <summary>Writes the weights as a Hugging Face model directory (model.safetensors, config.json, the base's tokenizer files).</summary>
    public void SaveForSampler(string directory, string baseDirectory)
    {
        string partial = directory + ".partial";
        if (System.IO.Directory.Exists(partial)) System.IO.Directory.Delete(partial, recursive: true);
        System.IO.Directory.CreateDirectory(partial);
        HfWeights.Save(partial, Weights.Parameters);
        File.WriteAllText(Path.Combine(partial, "config.json"), Weights.Config.ToJson());
        foreach (string name in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json" })
        {
            string source = Path.Combine(baseDirectory, name);
            if (File.Exists(source)) File.Copy(source, Path.Combine(partial, name));
        }
        if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
        System.IO.Directory.Move(partial, directory); // a reader never sees half a directory
    }

    /// <summary>save_weights: the weights, AdamW's moments and the step, so load_weights can continue exactly.</summary>
    public void SaveState(string directory)
    {
        string partial = directory + ".partial";
        if (System.IO.Directory.Exists(partial)) System.IO.Directory.Delete(partial, recursive: true);
        System.IO.Directory.CreateDirectory(partial);
        HfWeights.Save(partial, Weights.Parameters);
        File.WriteAllText(Path.Combine(partial, "config.json"), Weights.Config.ToJson());
        _optimizer?.SaveState(Path.Combine(partial, OptimizerFile));
        var state = new JsonObject { ["step"] = Step };
        if (_optimizerParams is { } p)
            state["adam"] = new JsonObject { ["beta1"] = p.Beta1, ["beta2"] = p.Beta2, ["eps"] = p.Eps, ["weight_decay"] = p.WeightDecay };
        File.WriteAllText(Path.Combine(partial, StateFile), state.ToJsonString());
        if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
        System.IO.Directory.Move(partial, directory);
    }

    /// <summary>load_weights: the weights of a save_weights directory and, with <paramref name="optimizer"/>, AdamW's state and the step.</summary>
    public void LoadState(string directory, bool optimizer)
    {
        HfWeights.Load(directory, Weights.Parameters, allowMissingLmHead: Weights.Config.TieWordEmbeddings);
        Weights.ZeroGrad();
        PendingDatums = 0;
        if (!optimizer) return;
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, StateFile)))!.AsObject();
        Step = state["step"]!.GetValue<long>();
        _optimizer = null;
        _optimizerParams = null;
        if (state["adam"] is JsonObject adam && File.Exists(Path.Combine(directory, OptimizerFile)))
        {
            _optimizerParams = new AdamParams(0, adam["beta1"]!.GetValue<double>(), adam["beta2"]!.GetValue<double>(), adam["eps"]!.GetValue<double>(),
                adam["weight_decay"]!.GetValue<double>(), 0);
            _optimizer = new AdamW(Weights.Parameters, new AdamWOptions
            {
                Beta1 = _optimizerParams.Beta1, Beta2 = _optimizerParams.Beta2, Epsilon = _optimizerParams.Eps, WeightDecay = _optimizerParams.WeightDecay,
            });
            _optimizer.LoadState(Path.Combine(directory, OptimizerFile));
        }
    }

    const string OptimizerFile = "optimizer.safetensors";
    const string StateFile = "training_state.json";
}
