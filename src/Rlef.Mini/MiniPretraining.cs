using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Rlef.Environment;
using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Optim;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Evaluation.Estimators;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Rollouts;
using Rlef.Training.Sft;
using Rlef.Training.Runs;

namespace Rlef.Mini;

/// <summary>Everything that defines a pretrained starting policy. The defaults (with Difficulty "easy") make the base model; the
/// shipped models/mini continues it (InitModel) with format mistakes and repairs, see the folder README.</summary>
public sealed record MiniPretrainOptions
{
    /// <summary>Model init, corpus draws and data order.</summary>
    public int Seed { get; init; } = 1;
    public int TrainProblems { get; init; } = MiniDataset.PretrainTrainCount;
    /// <summary>The generator difficulty of the train problems (valid and test follow it too; the miniature's is
    /// <see cref="MiniDataset.DifficultyName"/>).</summary>
    public string Difficulty { get; init; } = MiniDataset.DifficultyName;
    /// <summary>A model directory to continue from (its weights and tokenizer) instead of random weights and a tokenizer
    /// trained on the corpus; the architecture options are then ignored. Null: from scratch.</summary>
    public string? InitModel { get; init; }
    public MiniCorpusOptions Corpus { get; init; } = new();
    /// <summary>"bpe" (trained on the corpus) or "byte".</summary>
    public string Tokenizer { get; init; } = "bpe";
    public int VocabSize { get; init; } = 2048;
    public int HiddenSize { get; init; } = 192;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 6;
    public int KvHeads { get; init; } = 2;
    public int IntermediateSize { get; init; } = 512;
    public int MaxPositions { get; init; } = 2048;
    /// <summary>Optimizer updates (the budget; the cosine schedule needs it up front, so it is a count, not a time).</summary>
    public int Steps { get; init; } = 2000;
    /// <summary>Padded tokens per update (sequences of similar length are batched together).</summary>
    public int BatchTokens { get; init; } = 2048;
    public double LearningRate { get; init; } = 3e-3;
    public int WarmupSteps { get; init; } = 50;
    public double FinalLearningRateFraction { get; init; } = 0.05;
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Stored weights: BF16 halves the shipped size (the figures are measured on the stored weights).</summary>
    public bool Bf16 { get; init; } = true;
}

/// <summary>The start policy on the test split (docs/protocol.md §4 rules): 1@3 single-turn (three first replies, one submitted
/// among those passing the public tests) and multi-turn (one 3-turn rollout).</summary>
public sealed record MiniStartFigures(
    int Problems, double Temperature, double TopP,
    double SingleTurn1At3, double MultiTurn1At3, double MultiTurnFirstTurnSolved,
    double PublicPassFirstTurn, double InvalidCodeShare, double Seconds);

/// <summary>What a finished pretraining reports (pretrain.json).</summary>
public sealed record MiniPretrainReport
{
    public required string Command { get; init; }
    public required MiniPretrainOptions Options { get; init; }
    public required object Data { get; init; }
    public required object Corpus { get; init; }
    public required object Model { get; init; }
    public required double WallSeconds { get; init; }
    public required Dictionary<string, double> PhaseSeconds { get; init; }
    public required double FinalLoss { get; init; }
    public required List<double[]> LossCurve { get; init; }
    public MiniStartFigures? StartPolicy { get; init; }
}

/// <summary>
/// Pretrains the miniature's starting policy: generated train problems → SFT corpus of conversations whose later
/// replies mostly ignore the feedback (<see cref="MiniCorpus"/>) → byte-level BPE on the corpus text (or the tokenizer
/// of the model continued with <see cref="MiniPretrainOptions.InitModel"/>) → a small Llama trained on every assistant
/// reply with AdamW, warm-up and cosine decay → the Hugging Face directory the trainer starts from.
/// The work directory holds the data, corpus, tokenizer and a checkpoint (every few minutes, swapped in atomically):
/// rerunning the same command resumes there.
/// </summary>
public sealed class MiniPretraining(MiniPretrainOptions options, string outDirectory, string workDirectory, Action<string> log)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = ReadableJson.Encoder,
    };

    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Measure the start policy on the test split at the end (skipped by quick tests).</summary>
    public bool Evaluate { get; init; } = true;
    public int? EvalProblems { get; init; }

    public async Task<MiniPretrainReport> RunAsync(string command, ICodeExecutor executor, CancellationToken cancellationToken = default)
    {
        var wall = Stopwatch.StartNew();
        var phases = new Dictionary<string, double>();
        Directory.CreateDirectory(workDirectory);
        CheckSameOptions();

        // 1. Data: the miniature's splits with the pretraining's larger train split.
        var clock = Stopwatch.StartNew();
        string dataDir = Path.Combine(workDirectory, "data");
        var splits = MiniDataset.Generate(options.TrainProblems, options.Difficulty);
        if (!File.Exists(Path.Combine(dataDir, "test.jsonl"))) MiniDataset.Write(splits, dataDir);
        var train = MiniDataset.Load(dataDir, "train");
        var incorrect = MiniCorpus.IncorrectPrograms(splits.Train);
        var formatMistakes = MiniCorpus.FormatMistakes(splits.Train);
        var openConventions = MiniCorpus.OpenConventionProblems(splits.Train);
        phases["data"] = clock.Elapsed.TotalSeconds;
        log($"data: {train.Count} train problems ({options.Difficulty}, seed {MiniDataset.Seed}) in {dataDir}");

        // 2. Corpus: episodes of the scripted policy (mostly feedback-blind), with real feedback from the sandbox.
        clock.Restart();
        string corpusPath = Path.Combine(workDirectory, "corpus.jsonl");
        IReadOnlyList<Rollout> corpus;
        if (File.Exists(corpusPath)) corpus = RolloutStore.Read(corpusPath);
        else
        {
            int total = train.Count * options.Corpus.ConversationsPerProblem;
            var progress = Stopwatch.StartNew();
            corpus = await MiniCorpus.BuildAsync(train, incorrect, executor, options.Corpus with { Seed = options.Seed }, done =>
            {
                if (done == total || progress.Elapsed.TotalSeconds >= 5) { progress.Restart(); log($"corpus: {done}/{total} conversations"); }
            }, cancellationToken, formatMistakes, openConventions);
            string temp = corpusPath + ".tmp";
            File.WriteAllLines(temp, corpus.Select(r => JsonSerializer.Serialize(r, RolloutStore.Json)));
            File.Move(temp, corpusPath, overwrite: true);
        }
        phases["corpus"] = clock.Elapsed.TotalSeconds;
        var turnCounts = Enumerable.Range(1, options.Corpus.TurnLimit).ToDictionary(t => $"{t}_turns", t => corpus.Count(r => r.Turns.Count == t));
        log($"corpus: {corpus.Count} conversations, turns {string.Join(", ", turnCounts.Select(kv => $"{kv.Key}: {kv.Value}"))}");

        // 3. Tokenizer on the corpus text.
        clock.Restart();
        string tokenizerDir = options.InitModel ?? Path.Combine(workDirectory, "tokenizer");
        bool ownTokenizer = options.InitModel is not null || options.Tokenizer == "bpe";
        if (options.InitModel is null && options.Tokenizer == "bpe" && !File.Exists(Path.Combine(tokenizerDir, "tokenizer.json")))
            BpeTrainer.Train(MiniCorpus.Texts(corpus), options.VocabSize, tokenizerDir);
        LoadedTokenizer tokenizer = TokenizerLoader.Load(ownTokenizer ? tokenizerDir : "byte");
        IChatFormat format = tokenizer.ChatFormat ?? throw new InvalidDataException($"{tokenizerDir}: the tokenizer has no chat template");
        phases["tokenizer"] = clock.Elapsed.TotalSeconds;

        // 4. Examples: every assistant reply is a target, the rest is context (token layout of the engine policy).
        var sft = new SftConfig { LossOn = SftTarget.AllReplies, OnlySuccessfulTrajectories = false };
        var examples = corpus.Select(r => SftTargets.Build(RolloutTrajectories.From(r, format), sft)!).ToList();
        int longest = examples.Max(e => e.Tokens.Length);
        long corpusTokens = examples.Sum(e => (long)e.Tokens.Length), targetTokens = examples.Sum(e => (long)e.TargetPositions.Length);
        log($"examples: {examples.Count}, {corpusTokens:N0} tokens ({targetTokens:N0} trained), longest {longest}, vocabulary {tokenizer.Tokenizer.VocabSize}");

        // 5. Model and optimizer, resumed from the work directory's checkpoint when there is one.
        LlamaModel model = options.InitModel is not null ? LlamaModel.Load(options.InitModel)
            : LlamaModel.CreateRandom(LlamaConfig.Create(tokenizer.Tokenizer.VocabSize, options.HiddenSize, options.Layers, options.Heads, options.KvHeads,
                options.IntermediateSize, options.MaxPositions, tieEmbeddings: true), options.Seed);
        if (longest > model.Config.MaxPositionEmbeddings)
            throw new InvalidDataException($"the longest conversation has {longest} tokens, more than the model's {model.Config.MaxPositionEmbeddings} positions");
        var optimizer = new AdamW(model.Parameters, new AdamWOptions { Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8, WeightDecay = options.WeightDecay });
        var schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, LearningRateDecay.Cosine, options.Steps, options.FinalLearningRateFraction);
        var state = LoadCheckpoint(optimizer) ?? new TrainState();
        if (state.Step > 0) log($"resumed at update {state.Step}/{options.Steps}");
        log($"model: {model.ParameterCount:N0} parameters (hidden {model.Config.HiddenSize}, {model.Config.NumHiddenLayers} layers, " +
            $"{model.Config.NumAttentionHeads}/{model.Config.NumKeyValueHeads} heads){(options.InitModel is null ? "" : $", continued from {options.InitModel}")}");

        // 6. Training.
        clock.Restart();
        double trainSecondsBefore = state.TrainSeconds;
        var batches = new LengthBatches(examples, options.BatchTokens, (ulong)options.Seed);
        var lastSave = Stopwatch.StartNew();
        var display = Stopwatch.StartNew();
        double recent = double.NaN;
        long tokensSinceDisplay = 0;
        while (state.Step < options.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IReadOnlyList<SftExample> batch = batches.At(state.Step);
            // The length batches already respect the token budget: one padded batch per update.
            double loss = SftTrainer.AccumulateGradients(model, batch, int.MaxValue).Loss;
            double norm = Gradients.ClipByGlobalNorm(model.Parameters, 1.0);
            if (double.IsFinite(norm)) optimizer.Update(schedule.At(state.Step));
            model.ZeroGrad();
            state.Step++;
            tokensSinceDisplay += batch.Sum(e => (long)e.Tokens.Length);
            recent = double.IsNaN(recent) ? loss : 0.95 * recent + 0.05 * loss;
            state.LossSum += loss;
            state.LossCount++;
            if (state.Step % 25 == 0 || state.Step == options.Steps)
            {
                state.Curve.Add([state.Step, Math.Round(state.LossSum / state.LossCount, 4)]);
                state.LossSum = 0;
                state.LossCount = 0;
            }
            if (display.Elapsed.TotalSeconds >= 10 || state.Step == options.Steps)
            {
                double elapsed = trainSecondsBefore + clock.Elapsed.TotalSeconds;
                double eta = elapsed / state.Step * (options.Steps - state.Step);
                log($"update {state.Step}/{options.Steps}  loss {recent:F3}  lr {schedule.At(state.Step - 1):E2}  {tokensSinceDisplay / display.Elapsed.TotalSeconds:N0} tok/s  " +
                    $"{elapsed / 60:F1} min, about {eta / 60:F1} min left");
                display.Restart();
                tokensSinceDisplay = 0;
            }
            if (lastSave.Elapsed >= CheckpointInterval && state.Step < options.Steps)
            {
                state.TrainSeconds = trainSecondsBefore + clock.Elapsed.TotalSeconds;
                SaveCheckpoint(model, optimizer, state);
                lastSave.Restart();
            }
        }
        state.TrainSeconds = trainSecondsBefore + clock.Elapsed.TotalSeconds;
        phases["train"] = state.TrainSeconds;

        // 7. The shipped directory: config.json, model.safetensors, tokenizer files.
        Directory.CreateDirectory(outDirectory);
        model.Save(outDirectory, options.Bf16 ? SafetensorsDType.BF16 : SafetensorsDType.F32);
        if (ownTokenizer)
            foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(tokenizerDir, file), Path.Combine(outDirectory, file), overwrite: true);
        log($"wrote {outDirectory}");

        // 8. The start policy, measured on the stored weights.
        MiniStartFigures? figures = null;
        if (Evaluate)
        {
            clock.Restart();
            var test = MiniDataset.Load(dataDir, "test");
            if (EvalProblems is int n) test = test.Take(n).ToList();
            figures = await MeasureAsync(outDirectory, test, executor, options.Seed, log, cancellationToken,
                Path.Combine(workDirectory, "start-policy-rollouts.jsonl"));
            phases["evaluate"] = clock.Elapsed.TotalSeconds;
        }

        // The final loss: the mean over the last tenth of the updates.
        var tail = state.Curve.Where(c => c[0] > options.Steps * 0.9).Select(c => c[1]).ToList();
        var report = new MiniPretrainReport
        {
            Command = command,
            Options = options,
            Data = new { seed = MiniDataset.Seed, difficulty = options.Difficulty, train = options.TrainProblems, valid = MiniDataset.ValidCount, test = MiniDataset.TestCount },
            Corpus = new { conversations = corpus.Count, turns = turnCounts, tokens = corpusTokens, trained_tokens = targetTokens, longest },
            Model = new { parameters = model.ParameterCount, vocabulary = tokenizer.Tokenizer.VocabSize, dtype = options.Bf16 ? "bf16" : "f32" },
            WallSeconds = Math.Round(wall.Elapsed.TotalSeconds + trainSecondsBefore, 1), // this session plus the training time of earlier ones
            PhaseSeconds = phases.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 1)),
            FinalLoss = tail.Count > 0 ? Math.Round(tail.Average(), 4) : double.NaN,
            LossCurve = state.Curve,
            StartPolicy = figures,
        };
        File.WriteAllText(Path.Combine(outDirectory, "pretrain.json"), JsonSerializer.Serialize(report, Json) + "\n");
        return report;
    }

    /// <summary>
    /// The start policy of <paramref name="modelDirectory"/> on <paramref name="problems"/> at the paper's evaluation
    /// sampling (temperature 0.2, top-p 0.95): three single-turn replies and one 3-turn rollout per problem.
    /// </summary>
    public static async Task<MiniStartFigures> MeasureAsync(string modelDirectory, IReadOnlyList<Problem> problems, ICodeExecutor executor, int seed,
        Action<string> log, CancellationToken cancellationToken = default, string? rolloutsPath = null)
    {
        var clock = Stopwatch.StartNew();
        (LlamaModel model, IChatFormat format) = ModelDirectory.Load(modelDirectory);
        var sampling = new Rlef.Engine.Sampling.SamplingOptions { Temperature = 0.2f, TopP = 0.95f, Seed = seed };
        RlefConfig Config(bool singleTurn) => new()
        {
            Rollout = new RolloutConfig { TurnLimit = 3, MaxReplyTokens = 256 },
            Ablation = new AblationConfig { SingleTurn = singleTurn },
        };
        var multi = await new RolloutCollector(executor, format, Config(false)).SampleAsync(model, sampling, problems, cancellationToken);
        log($"start policy: {problems.Count} multi-turn rollouts in {clock.Elapsed.TotalSeconds:F0} s");
        if (rolloutsPath is not null) File.WriteAllLines(rolloutsPath, multi.Select(r => JsonSerializer.Serialize(r, RolloutStore.Json)));
        var tripled = problems.SelectMany(p => Enumerable.Repeat(p, 3)).ToList();
        var single = await new RolloutCollector(executor, format, Config(true)).SampleAsync(model, sampling with { Seed = RandomStreams.StartSingleTurnSampling(seed) }, tripled, cancellationToken);

        // Single-turn 1@3: of the three replies, those passing the public tests are the candidates, one is submitted.
        double st = 0;
        for (int p = 0; p < problems.Count; p++)
        {
            var candidates = single.Skip(3 * p).Take(3).Where(r => r.Turns[0].PublicOutcome == TurnOutcome.Passed).ToList();
            st += NAtKEstimator.Estimate(rollouts: 3, candidates.Count, candidates.Count(r => r.PassedAll), submissions: 1, drawn: 3);
        }
        var figures = new MiniStartFigures(
            problems.Count, 0.2, 0.95,
            SingleTurn1At3: Math.Round(st / problems.Count, 4),
            MultiTurn1At3: Math.Round(multi.Average(r => r.PassedAll ? 1.0 : 0.0), 4),
            MultiTurnFirstTurnSolved: Math.Round(multi.Average(r => r.PassedAll && r.Turns.Count == 1 ? 1.0 : 0.0), 4),
            PublicPassFirstTurn: Math.Round(multi.Average(r => r.Turns[0].PublicOutcome == TurnOutcome.Passed ? 1.0 : 0.0), 4),
            InvalidCodeShare: Math.Round(multi.SelectMany(r => r.Turns).Average(t => t.PublicOutcome == TurnOutcome.InvalidCode ? 1.0 : 0.0), 4),
            Seconds: Math.Round(clock.Elapsed.TotalSeconds, 1));
        log($"start policy on {problems.Count} test problems (T=0.2, top-p 0.95): single-turn 1@3 {figures.SingleTurn1At3:P1}, " +
            $"multi-turn 1@3 {figures.MultiTurn1At3:P1} (turn 1 alone {figures.MultiTurnFirstTurnSolved:P1}), invalid code {figures.InvalidCodeShare:P1}");
        return figures;
    }

    // --- resume ---

    sealed class TrainState
    {
        public int Step { get; set; }
        public double TrainSeconds { get; set; }
        public double LossSum { get; set; }
        public int LossCount { get; set; }
        public List<double[]> Curve { get; set; } = [];
    }

    string CheckpointDir => Path.Combine(workDirectory, "checkpoint");

    /// <summary>A work directory belongs to one set of options: resuming with others would mix two runs.</summary>
    void CheckSameOptions()
    {
        string path = Path.Combine(workDirectory, "options.json");
        string json = JsonSerializer.Serialize(options, Json);
        if (File.Exists(path) && File.ReadAllText(path) != json)
            throw new InvalidOperationException($"{workDirectory} holds a pretraining with other options ({path}); use another --work directory or delete it");
        File.WriteAllText(path, json);
    }

    void SaveCheckpoint(LlamaModel model, AdamW optimizer, TrainState state)
    {
        // Written beside, then swapped in: a crash leaves either the old or the new checkpoint whole.
        string temp = CheckpointDir + ".tmp", old = CheckpointDir + ".old";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        File.WriteAllText(Path.Combine(temp, "config.json"), model.Config.ToJson());
        TrainingCheckpoint.Save(temp, optimizer);
        File.WriteAllText(Path.Combine(temp, "state.json"), JsonSerializer.Serialize(state, Json));
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(CheckpointDir)) Directory.Move(CheckpointDir, old);
        Directory.Move(temp, CheckpointDir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        log($"checkpoint at update {state.Step}");
    }

    TrainState? LoadCheckpoint(AdamW optimizer)
    {
        string dir = Directory.Exists(CheckpointDir) ? CheckpointDir : CheckpointDir + ".old";
        if (!Directory.Exists(dir)) return null;
        TrainingCheckpoint.Load(dir, optimizer);
        string path = Path.Combine(dir, "state.json");
        return JsonSerializer.Deserialize<TrainState>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty state");
    }

    /// <summary>
    /// Batches of similar-length conversations (little padding) under a token budget, in a seeded order per epoch;
    /// the batch of update s depends only on s and the seed, so a resumed run sees the same data.
    /// </summary>
    sealed class LengthBatches(IReadOnlyList<SftExample> examples, int batchTokens, ulong seed)
    {
        int _epoch, _first;
        List<SftExample[]>? _batches;

        public IReadOnlyList<SftExample> At(int step)
        {
            if (_batches is null || step < _first) { _epoch = 0; _first = 0; _batches = Epoch(0); }
            while (step >= _first + _batches.Count) { _first += _batches.Count; _epoch++; _batches = Epoch(_epoch); }
            return _batches[step - _first];
        }

        List<SftExample[]> Epoch(int epoch)
        {
            // Shuffle, then sort by length bucket (stable): each epoch groups different neighbours of similar length.
            int[] order = Enumerable.Range(0, examples.Count).ToArray();
            RandomStreams.PretrainExampleOrder(seed, epoch).Shuffle(order.AsSpan());
            order = order.OrderBy(i => examples[i].Tokens.Length / 32).ToArray();
            var batches = new List<SftExample[]>();
            var current = new List<SftExample>();
            int longest = 0;
            foreach (int i in order)
            {
                int len = examples[i].Tokens.Length;
                if (current.Count > 0 && Math.Max(longest, len) * (current.Count + 1) > batchTokens)
                {
                    batches.Add([.. current]);
                    current.Clear();
                    longest = 0;
                }
                current.Add(examples[i]);
                longest = Math.Max(longest, len);
            }
            if (current.Count > 0) batches.Add([.. current]);
            int[] batchOrder = Enumerable.Range(0, batches.Count).ToArray();
            RandomStreams.PretrainBatchOrder(seed, epoch).Shuffle(batchOrder.AsSpan());
            return batchOrder.Select(b => batches[b]).ToList();
        }
    }
}
