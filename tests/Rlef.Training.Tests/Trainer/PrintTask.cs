using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Training.Sft;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;
using Rlef.Training.Runs;

namespace Rlef.Training.Tests.Trainer;

/// <summary>
/// The learning task: "print N" problems (N a random digit, also given on stdin) in the CodeContests prompt, solved
/// by <c>print(input())</c> (or by <c>print(N)</c>) in a python fence; and a tiny from-scratch model with the byte
/// tokenizer. Echoing stdin is the behaviour RL can find without first learning to copy a digit from 150 tokens back.
/// </summary>
public static class PrintTask
{
    public static readonly ByteChatFormat Format = new();

    /// <summary>One warm-start trajectory in this many echoes the input.</summary>
    public const int EchoOneIn = 6;

    public static Problem Problem(int id, int n) => new()
    {
        Id = $"print-{id}-{n}",
        Family = ProblemFamily.CodeContests,
        Statement = $"The input is the number {n}. Print it",
        PublicTests = [new ProblemTest(TestCase.Stdio($"{n}\n", $"{n}\n"), $"{n}\n")],
    };

    public static List<Problem> Problems(int count, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        return Enumerable.Range(0, count).Select(i => Problem(i, rng.NextInt(10))).ToList();
    }

    public static string Reply(string expression) => $"```python\nprint({expression})\n```";

    /// <summary>A tiny Llama: d = 64, 2 layers, the byte vocabulary.</summary>
    public static LlamaModel Model(int seed = 7) => LlamaModel.CreateRandom(
        LlamaConfig.Create(vocabSize: Format.Tokenizer.VocabSize, hiddenSize: 64, layers: 2, heads: 4, kvHeads: 4, intermediateSize: 128, maxPositions: 512), seed);

    /// <summary>
    /// SFT trajectories that teach the answer format and two programs: 1 in <see cref="EchoOneIn"/> echoes the input
    /// (always right), the others print a random digit (right one time in ten). Sampled at temperature 1 the
    /// warm-started policy solves about one problem in five; RL must find that echoing is
    /// the program that always passes. (A policy that must learn to copy the digit from ~150 tokens back does not get
    /// there within a test's budget: measured flat at 0.05-0.1 over 120 updates.)
    /// </summary>
    public static List<SftTrajectory> WarmStartTrajectories(IReadOnlyList<Problem> problems, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        return problems.Select(p =>
        {
            int[] prompt = Format.EncodeChat([EngineMessage.User(Rlef.Environment.Episodes.Templates.InitialPrompt(p))], addGenerationPrompt: true);
            int pick = rng.NextInt(EchoOneIn);
            string expression = pick == 0 ? "input()" : rng.NextInt(10).ToString(System.Globalization.CultureInfo.InvariantCulture);
            int[] reply = [.. Format.Tokenizer.Encode(Reply(expression)), ByteTokenizer.EndOfTurn];
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
        // The warm start these tests rely on: warm-up as the optimizer section, then a constant rate (not the paper's SFT recipe).
        Sft = new SftConfig { LearningRate = 1e-2, Epochs = 1, WarmupSteps = 2, Decay = Rlef.Engine.Optim.LearningRateDecay.Constant },
        Schedule = new ScheduleConfig { TotalUpdates = totalUpdates, EvalEvery = 1000, CheckpointEvery = 1000, Seed = 3 },
        Engine = new EngineConfig { GenerationBatch = 64, BatchWindowMs = 2 },
    };
}
