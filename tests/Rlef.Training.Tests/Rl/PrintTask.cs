using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Data;
using Rlef.Training.Sft;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;

namespace Rlef.Training.Tests.Rl;

/// <summary>
/// The learning task: "print N" problems (N a random digit) in the CodeContests prompt, solved by
/// <c>print(N)</c> in a python fence; and a tiny from-scratch model with the byte tokenizer.
/// </summary>
public static class PrintTask
{
    public static readonly ByteChatFormat Format = new();

    public static Problem Problem(int id, int n) => new()
    {
        Id = $"print-{id}-{n}",
        Family = ProblemFamily.CodeContests,
        Statement = $"Print the number {n}",
        PublicTests = [new ProblemTest(TestCase.Stdio("", $"{n}\n"), "")],
    };

    public static List<Problem> Problems(int count, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        return Enumerable.Range(0, count).Select(i => Problem(i, rng.NextInt(10))).ToList();
    }

    public static string Reply(int n) => $"```python\nprint({n})\n```";

    /// <summary>A tiny Llama: d = 64, 2 layers, the byte vocabulary.</summary>
    public static LlamaModel Model(int seed = 7) => LlamaModel.CreateRandom(
        LlamaConfig.Create(vocabSize: Format.Tokenizer.VocabSize, hiddenSize: 64, layers: 2, heads: 4, kvHeads: 4, intermediateSize: 128, maxPositions: 512), seed);

    /// <summary>
    /// SFT trajectories that teach the answer format but not the task: the printed digit is random, unrelated to the
    /// prompt, so the warm-started policy solves about one problem in ten.
    /// </summary>
    public static List<SftTrajectory> FormatOnlyTrajectories(IReadOnlyList<Problem> problems, ulong seed, bool correct = false)
    {
        var rng = new Xoshiro256(seed);
        return problems.Select(p =>
        {
            int[] prompt = Format.EncodeChat([EngineMessage.User(Rlef.Environment.Episodes.Templates.InitialPrompt(p))], addGenerationPrompt: true);
            int[] reply = [.. Format.Tokenizer.Encode(Reply(correct ? int.Parse(p.Statement[^1..]) : rng.NextInt(10))), ByteTokenizer.EndOfTurn];
            return new SftTrajectory(p.Id, [new SftTurn(prompt, reply)], Solved: true);
        }).ToList();
    }

    public static RlefConfig Config(int rolloutsPerIteration, int updatesPerIteration, int totalUpdates, double learningRate) => new()
    {
        Rollout = new RolloutConfig
        {
            RolloutsPerIteration = rolloutsPerIteration,
            UpdatesPerIteration = updatesPerIteration,
            MaxReplyTokens = 32,
        },
        Ablation = new AblationConfig { SingleTurn = true },
        Optimizer = new OptimizerConfig { LearningRate = learningRate, WarmupSteps = 2, WeightDecay = 0.0 },
        Sft = new SftConfig { LearningRate = 3e-3, Epochs = 1 },
        Schedule = new ScheduleConfig { TotalUpdates = totalUpdates, EvalEvery = 1000, CheckpointEvery = 1000, Seed = 3 },
        Engine = new EngineConfig { GenerationBatch = 64, BatchWindowMs = 2 },
    };
}
