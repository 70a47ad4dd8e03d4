using Rlef.Cli.Commands;
using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Episodes;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Tests;
using Spectre.Console;

namespace Rlef.Cli.Tests;

/// <summary>
/// `rlef eval --policy model:DIR` end to end: the project's engine on a tiny Hugging Face model directory answers every
/// turn in process (batched across the episodes in flight), in the real sandbox, resumably.
/// </summary>
[Collection("sandbox")]
public sealed class EvalModelPolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-eval-model-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
                                  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    /// <summary>A random 1-layer Llama over the tiny Qwen3 BPE fixture with a ChatML template.</summary>
    private string ModelDirectory()
    {
        string dir = Path.Combine(_dir, "model");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(RepoPaths.Root, "tests", "fixtures", "tokenizers", "tiny-qwen3", "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["chat_template"] = ChatMl, ["eos_token"] = "<|im_end|>" }));
        int vocab = TokenizerLoader.Load(dir).Tokenizer.VocabSize;
        LlamaModel.CreateRandom(LlamaConfig.Create(vocab, hiddenSize: 32, layers: 1, heads: 2, kvHeads: 2, intermediateSize: 64, maxPositions: 4096), 11).Save(dir);
        return dir;
    }

    private string WriteData()
    {
        string path = Path.Combine(_dir, "problems.jsonl");
        File.WriteAllLines(path, new[] { "add", "mul", "echo", "neg" }.Select(name => System.Text.Json.JsonSerializer.Serialize(new
        {
            name,
            description = $"PROBLEM {name}: read two numbers and print the answer.",
            public_tests = new { input = new[] { "1 2\n" }, output = new[] { "3\n" } },
            private_tests = new { input = new[] { "10 20\n" }, output = new[] { "30\n" } },
            time_limit = new { seconds = 2, nanos = 0 },
        })));
        return path;
    }

    private static IAnsiConsole QuietConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Interactive = InteractionSupport.No });

    [Fact]
    public async Task TheModelAnswersEveryTurnInProcessAndTheRunResumes()
    {
        string model = ModelDirectory(), data = WriteData();
        var settings = new EvalCommand.Settings
        {
            Dataset = ProblemFamily.CodeContests,
            DataPath = data,
            Policy = $"model:{model}",
            OutputDirectory = Path.Combine(_dir, "out"),
            Rollouts = 2,
            TurnLimit = 2,
            Temperature = 0, // greedy: the replies do not depend on how episodes were batched
            TopP = 0.95,
            MaxTokens = 6,
            Workers = 8,
            SandboxWorkers = 2,
        };
        Assert.Equal(0, await EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));

        string rolloutsPath = Path.Combine(settings.OutputDirectory, EvaluationRun.RolloutsFile);
        var rollouts = RolloutStore.Read(rolloutsPath);
        // Four problems share rollout indices 0 and 1: every episode kept its own token history.
        Assert.Equal(8, rollouts.Count);
        Assert.All(rollouts, r => Assert.Equal(2, r.Turns.Count)); // a random model writes no code: invalid, then the turn limit
        Assert.All(rollouts, r => Assert.False(r.PassedAll));

        // The first reply of each problem is the model's greedy continuation of the chat prompt.
        LoadedTokenizer tokenizer = TokenizerLoader.Load(model);
        var generator = new Generator(LlamaModel.Load(model));
        var problems = DatasetLoader.Load(ProblemFamily.CodeContests, data);
        foreach (Problem p in problems)
        {
            int[] prompt = tokenizer.ChatFormat!.EncodeChat([new ChatMessage("user", Templates.InitialPrompt(p))], addGenerationPrompt: true);
            Generation g = generator.Generate([prompt], new SamplingOptions { Temperature = 0, MaxTokens = 6, StopTokenIds = tokenizer.ChatFormat.StopIds })[0];
            string expected = tokenizer.Tokenizer.Decode(g.Tokens, skipSpecialTokens: true);
            Assert.All(rollouts.Where(r => r.TaskId == p.Id), r => Assert.Equal(expected, r.Turns[0].Reply));
        }

        string runJson = File.ReadAllText(Path.Combine(settings.OutputDirectory, EvaluationRun.SettingsFile));
        Assert.Contains($"model:{model}", runJson);
        Assert.True(File.Exists(Path.Combine(settings.OutputDirectory, "summary.json")));

        // Rerun: nothing left to do, the same rollouts.
        Assert.Equal(0, await EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        Assert.Equal(8, RolloutStore.Read(rolloutsPath).Count);
        // Other sampling settings are another run: refused rather than mixed in.
        await Assert.ThrowsAsync<InvalidOperationException>(() => EvalCommand.RunAsync(settings with { Temperature = 0.5 }, QuietConsole(), CancellationToken.None));
    }

    [Fact]
    public async Task AMissingModelDirectoryIsAClearError()
    {
        var settings = new EvalCommand.Settings
        {
            Dataset = ProblemFamily.CodeContests,
            DataPath = WriteData(),
            Policy = $"model:{Path.Combine(_dir, "nowhere")}",
            OutputDirectory = Path.Combine(_dir, "out"),
        };
        var e = await Assert.ThrowsAsync<DirectoryNotFoundException>(() => EvalCommand.RunAsync(settings, QuietConsole(), CancellationToken.None));
        Assert.Contains("nowhere", e.Message);
    }
}
