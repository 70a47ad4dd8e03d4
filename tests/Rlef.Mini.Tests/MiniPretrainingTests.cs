using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Mini.Synthetic;
using Rlef.Sandbox;
using Rlef.Training.Config;
using Rlef.Mini;
using Rlef.Training.Sft;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;
using Rlef.Training.Runs;
using Rlef.Engine.IO;

namespace Rlef.Mini.Tests;

/// <summary>The starting policy's SFT corpus is what the environment produces, and a tiny pretraining learns from it.</summary>
public sealed class MiniPretrainingTests
{
    static (IReadOnlyList<Problem> Problems, Dictionary<string, IReadOnlyList<string>> Incorrect) TrainProblems(string dir, int count)
    {
        var splits = SyntheticDataset.GenerateSplits(5, count, 0, 0, Difficulty.Easy);
        SyntheticDataset.WriteSplits(splits, dir);
        var problems = CodeContestsLoader.Load(Path.Combine(dir, "train.jsonl"));
        return (problems, MiniCorpus.IncorrectPrograms(splits.Train));
    }

    sealed class ListPolicy(IReadOnlyList<string> replies) : IPolicy
    {
        public string Describe() => "list";
        public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PolicyReply(replies[context.TurnIndex]));
    }

    /// <summary>Generated train problems (seed 5) written to <paramref name="dir"/> and read back as the environment sees them.</summary>
    static (SyntheticSplits Splits, IReadOnlyList<Problem> Problems) TrainProblems(string dir, int count, Difficulty difficulty)
    {
        var splits = SyntheticDataset.GenerateSplits(5, count, 0, 0, difficulty);
        SyntheticDataset.WriteSplits(splits, dir);
        return (splits, CodeContestsLoader.Load(Path.Combine(dir, "train.jsonl")));
    }

    static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "rlef-mini-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public async Task MultiTurnConversationsCarryRealFeedbackAndRenderLikeAnEpisode()
    {
        string dir = TempDir();
        try
        {
            var (problems, incorrect) = TrainProblems(dir, 12);
            await using var executor = new SandboxPool();
            var options = new MiniCorpusOptions { ConversationsPerProblem = 3, ReferenceProbability = 0.3, Seed = 4 };
            var corpus = await MiniCorpus.BuildAsync(problems, incorrect, executor, options);
            Assert.Equal(36, corpus.Count);
            var multi = corpus.Where(r => r.Turns.Count > 1).ToList();
            Assert.NotEmpty(multi);
            Assert.Contains(corpus, r => r.Turns.Count == 1);

            var byId = problems.ToDictionary(p => p.Id);
            BpeTrainer.Train(MiniCorpus.Texts(corpus), 320, Path.Combine(dir, "tokenizer"));
            var tokenizer = TokenizerLoader.Load(Path.Combine(dir, "tokenizer"));
            IChatFormat format = tokenizer.ChatFormat!;
            foreach (Rollout r in corpus)
            {
                Problem problem = byId[r.TaskId];
                // Every reply is the reference or one of the problem's mutants, whatever the feedback said.
                var allowed = incorrect[r.TaskId].Append(problem.CanonicalSolution!).Select(MiniCorpus.Reply).ToHashSet();
                Assert.All(r.Turns, t => Assert.Contains(t.Reply, allowed));
                // Only the last turn may pass the public tests (the episode stops there); earlier ones failed them.
                Assert.All(r.Turns.SkipLast(1), t => Assert.NotEqual(TurnOutcome.Passed, t.PublicOutcome));

                // The same replies replayed through a fresh episode (private tests included) give the same conversation.
                var replay = new ListPolicy(r.Turns.Select(t => t.Reply).ToList());
                var again = await new Episode(executor, replay, new EpisodeOptions { TurnLimit = 3 }).RunAsync(problem, 0);
                Assert.Equal(r.Conversation, again.Conversation);

                // Feedback is the real run of the failing program on the public tests.
                foreach (var t in r.Turns.SkipLast(1))
                {
                    var results = (await executor.RunAsync(new ExecutionRequest
                    {
                        Code = t.Code!, Tests = problem.PublicTests.Select(x => x.Case).ToList(), Comparison = problem.Comparison, Limits = problem.Limits,
                    })).Results;
                    Assert.Equal(Feedback.Render(problem, problem.PublicTests, results), t.Feedback);
                    Assert.StartsWith("Your code failed the following tests:", t.Feedback);
                }

                // The SFT tokens are the chat template's rendering of the whole conversation, and every reply (with its
                // end-of-turn token) is a target.
                var example = SftTargets.Build(RolloutTrajectories.From(r, format), new SftConfig { LossOn = SftTarget.AllReplies, OnlySuccessfulTrajectories = false })!;
                string rendered = format.Render(r.Conversation.Select(m => new EngineMessage(m.Role, m.Content)).ToList(), addGenerationPrompt: false);
                Assert.Equal(rendered.TrimEnd('\n'), tokenizer.Tokenizer.Decode(example.Tokens, skipSpecialTokens: false));
                int replyTokens = r.Turns.Sum(t => tokenizer.Tokenizer.Encode(t.Reply).Length + 1);
                Assert.Equal(replyTokens, example.TargetPositions.Length);
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task FormatMistakesReplaceTheDrawWhereAProblemHasThem()
    {
        string dir = TempDir();
        try
        {
            var (splits, problems) = TrainProblems(dir, 24, Difficulty.Easy);
            var incorrect = MiniCorpus.IncorrectPrograms(splits.Train);
            var formats = MiniCorpus.FormatMistakes(splits.Train);
            // The format mistakes are the wrong-format mutants, so a subset of the incorrect programs.
            Assert.All(splits.Train, p => Assert.Equal(p.IncorrectSolutions.Where(s => s.Kind == MutationKind.WrongFormat).Select(s => s.Code), formats[p.Name]));
            Assert.All(formats, f => Assert.Subset(incorrect[f.Key].ToHashSet(), f.Value.ToHashSet()));
            Assert.Contains(formats.Values, f => f.Count > 0);
            Assert.Contains(formats.Values, f => f.Count == 0);

            await using var executor = new SandboxPool();
            // f = 1: a problem with format mistakes only ever gets them (so it never passes and runs all three turns);
            // q = 1 for the others: always the reference.
            var options = new MiniCorpusOptions { FormatMistakeProbability = 1, ReferenceProbability = 1, Seed = 2 };
            var corpus = await MiniCorpus.BuildAsync(problems, incorrect, executor, options, formatMistakes: formats);
            var byId = problems.ToDictionary(p => p.Id);
            foreach (Rollout r in corpus)
            {
                var mistakes = formats[r.TaskId].Select(MiniCorpus.Reply).ToHashSet();
                if (mistakes.Count > 0)
                {
                    Assert.Equal(3, r.Turns.Count);
                    Assert.All(r.Turns, t => Assert.Contains(t.Reply, mistakes));
                }
                else Assert.All(r.Turns, t => Assert.Equal(MiniCorpus.Reply(byId[r.TaskId].CanonicalSolution!), t.Reply));
            }
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => MiniCorpus.BuildAsync(problems, incorrect, executor, options with { FormatMistakeProbability = 1.5 }));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task RepairsFollowAFormatMistakeQuoteItsFeedbackAndPass()
    {
        string dir = TempDir();
        try
        {
            var (splits, problems) = TrainProblems(dir, 24, Difficulty.FromName("easy:multicase=0.6"));
            var incorrect = MiniCorpus.IncorrectPrograms(splits.Train);
            var formats = MiniCorpus.FormatMistakes(splits.Train);
            await using var executor = new SandboxPool();
            // f = 1 and p = 1: a problem with format mistakes gets one on turn 1 and its repair on turn 2, which passes.
            var options = new MiniCorpusOptions { FormatMistakeProbability = 1, RepairProbability = 1, ReferenceProbability = 1, Seed = 4 };
            var corpus = await MiniCorpus.BuildAsync(problems, incorrect, executor, options, formatMistakes: formats);
            var byId = problems.ToDictionary(p => p.Id);
            var repaired = corpus.Where(r => formats[r.TaskId].Count > 0).ToList();
            Assert.NotEmpty(repaired);
            foreach (Rollout r in repaired)
            {
                Assert.Equal(2, r.Turns.Count);
                Assert.True(r.PassedAll, r.TaskId);
                string repair = r.Turns[1].Reply;
                Assert.StartsWith("```python\n# expected ", repair);
                Assert.EndsWith(byId[r.TaskId].CanonicalSolution!.TrimEnd('\n') + "\n```", repair);
            }
            // Both kinds of quote occur: a line count (only the first test case solved) and a differing line.
            Assert.Contains(repaired, r => r.Turns[1].Reply.Contains(" lines of output but got "));
            Assert.Contains(repaired, r => r.Turns[1].Reply.Contains("` but got `"));
            // p = 0 never repairs: the format mistakes run all three turns.
            var unrepaired = await MiniCorpus.BuildAsync(problems, incorrect, executor, options with { RepairProbability = 0 }, formatMistakes: formats);
            Assert.All(unrepaired.Where(r => formats[r.TaskId].Count > 0), r => Assert.Equal(3, r.Turns.Count));
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => MiniCorpus.BuildAsync(problems, incorrect, executor, options with { RepairProbability = 2 }));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task OnOpenConventionsTheHabitIsPythonsAndARepairFixesOneConventionAtATime()
    {
        string dir = TempDir();
        try
        {
            var (splits, problems) = TrainProblems(dir, 60, Difficulty.FromName("easy:multicase=0,position=1,open=1"));
            var open = MiniCorpus.OpenConventionProblems(splits.Train);
            Assert.NotEmpty(open);
            await using var executor = new SandboxPool();
            var options = new MiniCorpusOptions { FormatMistakeProbability = 1, RepairProbability = 1, ReferenceProbability = 1, Seed = 2 };
            var corpus = await MiniCorpus.BuildAsync(problems, MiniCorpus.IncorrectPrograms(splits.Train), executor, options,
                formatMistakes: MiniCorpus.FormatMistakes(splits.Train), openConventions: open);
            var byId = problems.ToDictionary(p => p.Id);
            var openRollouts = corpus.Where(r => open.Contains(r.TaskId)).ToList();
            // f = 1: the first reply is Python's habit (the first occurrence, counted from 0), right where the problem
            // happens to use those conventions.
            foreach (Rollout r in openRollouts)
            {
                string first = r.Turns[0].Code!;
                Assert.DoesNotContain("rfind", first);
                Assert.DoesNotContain("[::-1].index", first);
                Assert.DoesNotContain("i + 1 if", first);
            }
            Assert.Contains(openRollouts, r => r.Turns.Count == 1);
            // p = 1: every wrong reply is repaired on the next turn, one convention at a time: the base when the
            // feedback lists several failures, the occurrence when it lists one; so every rollout passes by turn 3.
            int bases = 0, occurrences = 0;
            foreach (Rollout r in openRollouts.Where(r => r.Turns.Count > 1))
            {
                string repair = r.Turns[1].Reply;
                Assert.Matches(@"^```python\n# fix the (base|occurrence)\n", repair);
                int failures = r.Turns[0].PublicResults.Count(t => t.Verdict != "passed");
                if (repair.Contains("fix the base")) { bases++; Assert.True(failures >= 2, r.TaskId); }
                else { occurrences++; Assert.Equal(1, failures); }
                Assert.True(r.PassedAll, r.TaskId);
            }
            Assert.True(bases > 0 && occurrences > 0, $"{bases} base and {occurrences} occurrence repairs");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void TheShippedStartWasPretrainedOnTheMiniaturesOwnData()
    {
        // rlef mini evaluates and trains models/mini on MiniDataset's data; a start pretrained on another difficulty
        // would meet problems it was not built for (src/Rlef.Mini/README.md, "Data").
        string path = Path.Combine(RepoPaths.Root, "models", "mini", "pretrain.json");
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        Assert.Equal(MiniDataset.DifficultyName, json.RootElement.GetProperty("options").GetProperty("difficulty").GetString());
        Assert.Equal(MiniDataset.Seed, json.RootElement.GetProperty("data").GetProperty("seed").GetInt32());
    }

    [Fact]
    public void ARepairFixesTheBaseFirstThenTheOccurrence()
    {
        const string body = "a = [x for x in a if x > 2]\n";
        string Program(string occurrence, string print) => body + occurrence + "\n" + print + "\n";
        string first = "i = a.index(min(a)) if a else -1", last = "i = len(a) - 1 - a[::-1].index(min(a)) if a else -1";
        string from1 = "print(i + 1 if i >= 0 else -1)", from0 = "print(i)";
        string reference = Program(last, from1);
        string[] formats = [Program(first, from1), Program(first, from0), Program(last, from0), "t = int(input())\n" + reference];

        Assert.Equal("fix the base", MiniCorpus.ConventionNote(Program(first, from0), reference));
        Assert.Equal(Program(first, from1), MiniCorpus.OneConventionFixed(Program(first, from0), reference, formats));
        Assert.Equal("fix the base", MiniCorpus.ConventionNote(Program(last, from0), reference));
        Assert.Equal(reference, MiniCorpus.OneConventionFixed(Program(last, from0), reference, formats));
        Assert.Equal("fix the occurrence", MiniCorpus.ConventionNote(Program(first, from1), reference));
        Assert.Equal(reference, MiniCorpus.OneConventionFixed(Program(first, from1), reference, formats));
        Assert.Equal("", MiniCorpus.ConventionNote(reference, reference));
        Assert.Equal("fix the occurrence", MiniCorpus.ConventionNote("i = s.find('b')\nprint(i)\n", "i = s.rfind('b')\nprint(i)\n"));
    }

    [Fact]
    public void RepairQuotesTheFirstWrongOutputOfTheLastFeedback()
    {
        static Conversation With(string feedback) => new([Rlef.Environment.Policies.ChatMessage.User("statement"), Rlef.Environment.Policies.ChatMessage.Assistant("code"), Rlef.Environment.Policies.ChatMessage.User(feedback)]);
        string oneLine = "Your code failed the following tests:\n\n- input `1\n` failed:\nExpected output `1 2\nYES\n` but got `1 2\nTrue\n`\n";
        Assert.Equal(MiniCorpus.Reply("# expected `YES` but got `True`\nprint(1)"), MiniCorpus.Repair(With(oneLine), "print(1)\n"));
        string lines = "- input `2\n` failed:\nExpected output `3\n4\n5\n` but got `3\n`\n";
        Assert.Equal(MiniCorpus.Reply("# expected 3 lines of output but got 1\nprint(1)"), MiniCorpus.Repair(With(lines), "print(1)"));
        Assert.Equal(MiniCorpus.Reply("# the output format is wrong\nprint(1)"), MiniCorpus.Repair(With("Your code timed out."), "print(1)"));
    }

    [Fact]
    public async Task RepeatsCopyThePreviousReplyVerbatim()
    {
        string dir = TempDir();
        try
        {
            var (problems, incorrect) = TrainProblems(dir, 16);
            await using var executor = new SandboxPool();
            // q = 0: every fresh draw is a mutant, so the episodes run on; r = 1: every later reply is the first again.
            var options = new MiniCorpusOptions { ReferenceProbability = 0, RepeatProbability = 1, Seed = 3 };
            var repeated = (await MiniCorpus.BuildAsync(problems, incorrect, executor, options)).Where(r => r.Turns.Count > 1).ToList();
            Assert.NotEmpty(repeated);
            Assert.All(repeated, r => Assert.All(r.Turns, t => Assert.Equal(r.Turns[0].Reply, t.Reply)));
            // r = 0: fresh draws, so some conversation changes its program between turns.
            var fresh = await MiniCorpus.BuildAsync(problems, incorrect, executor, options with { RepeatProbability = 0 });
            Assert.Contains(fresh, r => r.Turns.Select(t => t.Reply).Distinct().Count() > 1);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => MiniCorpus.BuildAsync(problems, incorrect, executor, options with { RepeatProbability = -0.1 }));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task ATinyPretrainingRunsEndToEndLowersTheLossAndResumes()
    {
        string work = TempDir(), output = Path.Combine(work, "model");
        try
        {
            var options = new MiniPretrainOptions
            {
                TrainProblems = 24, VocabSize = 300, HiddenSize = 32, Layers = 1, Heads = 2, KvHeads = 1, IntermediateSize = 64,
                Steps = 30, WarmupSteps = 5, BatchTokens = 2048, LearningRate = 1e-2, Corpus = new MiniCorpusOptions { ConversationsPerProblem = 2 },
            };
            var log = new List<string>();
            await using var executor = new SandboxPool();
            var first = new MiniPretraining(options, output, Path.Combine(work, "work"), log.Add) { Evaluate = false, CheckpointInterval = TimeSpan.Zero };
            var report = await first.RunAsync("test", executor);

            Assert.True(report.FinalLoss < report.LossCurve[0][1] - 0.5, $"loss {report.LossCurve[0][1]} -> {report.FinalLoss}");
            foreach (string file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "pretrain.json" })
                Assert.True(File.Exists(Path.Combine(output, file)), file);
            // The shipped directory is what `rlef train` starts from.
            var policy = RunSetup.LoadPolicy(new RlefConfig { Model = new ModelConfig { Directory = output } });
            Assert.Equal(2048, policy.Model.Config.MaxPositionEmbeddings);
            Assert.IsType<ChatMlFormat>(policy.Format);
            // A broken directory is named with what is missing.
            Assert.Contains("has no config.json", Assert.Throws<FileNotFoundException>(() => ModelDirectory.Load(work)).Message);
            Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() => ModelDirectory.Load(Path.Combine(work, "nowhere"))).Message);

            // Same command again: resumes from the last checkpoint (one update before the end) instead of starting over.
            log.Clear();
            var second = new MiniPretraining(options, output, Path.Combine(work, "work"), log.Add) { Evaluate = false };
            var again = await second.RunAsync("test", executor);
            Assert.Contains(log, l => l.StartsWith("resumed at update 29/30", StringComparison.Ordinal));
            Assert.Equal(report.LossCurve.Count, again.LossCurve.Count);

            // Other options in the same work directory are refused.
            var other = new MiniPretraining(options with { Steps = 31 }, output, Path.Combine(work, "work"), log.Add) { Evaluate = false };
            await Assert.ThrowsAsync<InvalidOperationException>(() => other.RunAsync("test", executor));

            // --init continues from the written model: its weights (so a lower loss than the same few updates from
            // scratch), its tokenizer copied along, the architecture options ignored.
            var few = options with { Steps = 6, WarmupSteps = 1, LearningRate = 1e-4, Corpus = options.Corpus with { RepairProbability = 0.5 } };
            string continued = Path.Combine(work, "continued");
            var resumed = await new MiniPretraining(few with { InitModel = output, HiddenSize = 64 }, continued, Path.Combine(work, "work-continued"), log.Add) { Evaluate = false }
                .RunAsync("test", executor);
            var scratch = await new MiniPretraining(few, Path.Combine(work, "scratch"), Path.Combine(work, "work-scratch"), log.Add) { Evaluate = false }
                .RunAsync("test", executor);
            Assert.True(resumed.FinalLoss < scratch.FinalLoss - 0.5, $"continued loss {resumed.FinalLoss} vs {scratch.FinalLoss} from scratch");
            Assert.Equal(File.ReadAllText(Path.Combine(output, "tokenizer.json")), File.ReadAllText(Path.Combine(continued, "tokenizer.json")));
            Assert.Equal(LlamaModel.Load(output).ParameterCount, LlamaModel.Load(continued).ParameterCount);
        }
        finally { Directory.Delete(work, recursive: true); }
    }
}
