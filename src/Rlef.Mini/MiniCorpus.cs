using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Mini.Synthetic;
using Rlef.Sandbox;
using Rlef.Training.Runs;

namespace Rlef.Mini;

/// <summary>How the SFT corpus of the starting policy is drawn.</summary>
public sealed record MiniCorpusOptions
{
    /// <summary>Conversations per train problem (each with its own draw of replies).</summary>
    public int ConversationsPerProblem { get; init; } = 1;
    /// <summary>q: a reply is the reference solution with this probability, else a uniformly drawn one-bug mutant.</summary>
    public double ReferenceProbability { get; init; } = 0.8;
    /// <summary>f: for a problem with wrong-format mutants (True/False for YES/NO, a list's repr for its elements, only
    /// the first of several test cases), a reply is one of them with this probability, before q applies. The policy
    /// is then unsure how to print such answers, a mistake whose feedback shows the symptom ("got `True`"). On a
    /// problem with open conventions the mistake is Python's habit: the first occurrence, counted from 0. Default 0:
    /// off, and then no random number is drawn for it, so the shipped policy's corpus is unchanged.</summary>
    public double FormatMistakeProbability { get; init; }
    /// <summary>r: a later reply repeats the previous one verbatim with this probability, else it is drawn afresh.
    /// Instruct models often resubmit the code that just failed; the repeat ignores what the feedback says, like the
    /// fresh draw. Default 0: off, and then no random number is drawn for it.</summary>
    public double RepeatProbability { get; init; }
    /// <summary>p: after a wrong-format reply, the next reply is a repair with this probability (before r applies): a
    /// comment that quotes the mismatch the feedback shows ("# expected `YES` but got `True`", "# expected 3 lines of
    /// output but got 1"), then the reference solution. The start thus holds a rarely used skill of reading the
    /// feedback, as instruct models do, for RL to elicit. Default 0: off, and then no random number is drawn for it.</summary>
    public double RepairProbability { get; init; }
    public int TurnLimit { get; init; } = 3;
    public int Seed { get; init; } = 1;
    /// <summary>Episodes in flight at once (their programs queue on the sandbox pool).</summary>
    public int Parallelism { get; init; } = 16;
}

/// <summary>
/// The SFT corpus of the miniature's starting policy: conversations of an "instruct model" that writes code on turn 1
/// and keeps answering, but whose later replies ignore the feedback. Every reply of a conversation is drawn
/// independently from the same distribution (the reference with probability q, else one of the problem's one-bug
/// mutants; optionally a copy of the previous reply, see <see cref="MiniCorpusOptions.RepeatProbability"/>), and the conversation is the environment's own <see cref="Episode"/> run on those replies: the paper's
/// prompt, the real feedback of the failing program on the public tests (run in the sandbox), the stop on a public
/// pass. So the text is byte for byte what the policy sees at RL and evaluation time.
/// </summary>
public static class MiniCorpus
{
    /// <summary>Each problem's incorrect programs by problem id: the <c>incorrect</c> argument of <see cref="BuildAsync"/>.</summary>
    public static Dictionary<string, IReadOnlyList<string>> IncorrectPrograms(IEnumerable<SyntheticProblem> problems) =>
        ProgramsById(problems, _ => true);

    /// <summary>Each problem's wrong-format programs by problem id (empty where it has none): <c>formatMistakes</c> of <see cref="BuildAsync"/>.</summary>
    public static Dictionary<string, IReadOnlyList<string>> FormatMistakes(IEnumerable<SyntheticProblem> problems) =>
        ProgramsById(problems, s => s.Kind == MutationKind.WrongFormat);

    static Dictionary<string, IReadOnlyList<string>> ProgramsById(IEnumerable<SyntheticProblem> problems, Func<IncorrectSolution, bool> which) =>
        problems.ToDictionary(p => p.Name, p => (IReadOnlyList<string>)p.IncorrectSolutions.Where(which).Select(s => s.Code).ToList());

    /// <summary>The ids of the problems whose answer is a position with open conventions (<see cref="OpSpec.OpenConventions"/>).</summary>
    public static HashSet<string> OpenConventionProblems(IEnumerable<SyntheticProblem> problems) =>
        problems.Where(p => p.Chain.Specs.Last().OpenConventions).Select(p => p.Name).ToHashSet();

    /// <summary>A program as the assistant replies it (the format <see cref="CodeExtractor"/> reads; as <see cref="CanonicalPolicy"/>).</summary>
    public static string Reply(string code) => "```python\n" + code.TrimEnd('\n') + "\n```";

    /// <summary>
    /// One rollout per (problem, conversation): <paramref name="incorrect"/> maps a problem id to its incorrect programs.
    /// Private tests are not run (the corpus needs no final verdict), so <see cref="Rollout.PassedAll"/> means "passed
    /// the public tests" here. Deterministic in the options' seed.
    /// </summary>
    /// <param name="formatMistakes">Maps a problem id to its wrong-format programs (a subset of <paramref name="incorrect"/>'s).</param>
    public static async Task<IReadOnlyList<Rollout>> BuildAsync(IReadOnlyList<Problem> problems, IReadOnlyDictionary<string, IReadOnlyList<string>> incorrect,
        ICodeExecutor executor, MiniCorpusOptions options, Action<int>? onDone = null, CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? formatMistakes = null, IReadOnlySet<string>? openConventions = null)
    {
        if (options.ReferenceProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.ReferenceProbability, "the reference probability q must lie in [0, 1]");
        if (options.FormatMistakeProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.FormatMistakeProbability, "the format mistake probability f must lie in [0, 1]");
        if (options.RepeatProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.RepeatProbability, "the repeat probability r must lie in [0, 1]");
        if (options.RepairProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.RepairProbability, "the repair probability p must lie in [0, 1]");
        var policy = new ScriptedPolicy();
        var jobs = new List<(Problem Problem, int Index)>();
        for (int p = 0; p < problems.Count; p++)
        {
            Problem problem = problems[p] with { PrivateTests = [] };
            string reference = problem.CanonicalSolution ?? throw new InvalidDataException($"{problem.Id}: no reference solution");
            IReadOnlyList<string> mutants = incorrect.TryGetValue(problem.Id, out var m) ? m : [];
            IReadOnlyList<string> formats = formatMistakes is not null && formatMistakes.TryGetValue(problem.Id, out var f) ? f : [];
            // Where the statement leaves the conventions open, the model's habit is Python's: the first occurrence,
            // counted from 0 (docs/mini.md, "A start with the repair skill latent").
            bool open = openConventions?.Contains(problem.Id) == true;
            string? habit = open ? ProgramWithConventions(reference, formats, (false, false)) : null;
            for (int c = 0; c < options.ConversationsPerProblem; c++)
            {
                int index = p * options.ConversationsPerProblem + c;
                var rng = RandomStreams.CorpusConversation(options.Seed, index);
                var replies = new Func<Conversation, string>[options.TurnLimit];
                bool previousWasFormatMistake = false;
                string previousCode = "";
                Func<Conversation, string> Fresh()
                {
                    bool format = formats.Count > 0 && options.FormatMistakeProbability > 0 && rng.NextDouble() < options.FormatMistakeProbability;
                    string code = format ? habit ?? formats[rng.Next(formats.Count)]
                        : mutants.Count == 0 || rng.NextDouble() < options.ReferenceProbability ? reference : mutants[rng.Next(mutants.Count)];
                    previousWasFormatMistake = format && code != reference;
                    previousCode = code;
                    string reply = Reply(code);
                    return _ => reply;
                }
                for (int t = 0; t < replies.Length; t++)
                {
                    if (t > 0 && previousWasFormatMistake && options.RepairProbability > 0 && rng.NextDouble() < options.RepairProbability)
                    {
                        // With open conventions a repair fixes one convention, the one the failure count names, and
                        // says only which: the small policy does not copy quoted numbers reliably (docs/mini.md, "A
                        // start with the repair skill latent"); a second wrong one is left for the next turn.
                        string note = open ? ConventionNote(previousCode, reference) : "";
                        if (note.Length > 0)
                        {
                            string fixedProgram = OneConventionFixed(previousCode, reference, formats);
                            string reply = Reply("# " + note + "\n" + fixedProgram);
                            replies[t] = _ => reply;
                            previousWasFormatMistake = fixedProgram != reference;
                            previousCode = fixedProgram;
                        }
                        else
                        {
                            replies[t] = conversation => Repair(conversation, reference);
                            previousWasFormatMistake = false;
                        }
                    }
                    else if (t > 0 && options.RepeatProbability > 0 && rng.NextDouble() < options.RepeatProbability)
                        replies[t] = replies[t - 1];
                    else
                        replies[t] = Fresh();
                }
                policy.Script(index, replies);
                jobs.Add((problem, index));
            }
        }

        var episode = new Episode(new MemoizingExecutor(executor), policy, new EpisodeOptions { TurnLimit = options.TurnLimit });
        var rollouts = new Rollout[jobs.Count];
        int done = 0;
        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism, CancellationToken = cancellationToken },
            async (job, ct) =>
            {
                rollouts[job.Index] = await episode.RunAsync(job.Problem, job.Index, ct);
                onDone?.Invoke(Interlocked.Increment(ref done));
            });
        return rollouts;
    }

    /// <summary>
    /// A repair of a wrong-format reply: a comment quoting the mismatch of the last feedback's first wrong output (the
    /// line counts when they differ, else the first differing line), then <paramref name="reference"/>.
    /// </summary>
    public static string Repair(Conversation conversation, string reference)
    {
        string feedback = conversation.Messages.LastOrDefault(m => m.Role == "user")?.Content ?? "";
        var match = WrongOutput.Match(feedback);
        string comment = "# the output format is wrong";
        if (match.Success)
        {
            string[] expected = Lines(match.Groups[1].Value), observed = Lines(match.Groups[2].Value);
            if (expected.Length != observed.Length)
                comment = $"# expected {expected.Length} lines of output but got {observed.Length}";
            else if (Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != observed[i], -1) is int i and >= 0)
                comment = $"# expected `{Clip(expected[i])}` but got `{Clip(observed[i])}`";
        }
        return Reply(comment + "\n" + reference);

        static string[] Lines(string text) => text.TrimEnd('\n').Split('\n');
        static string Clip(string line) => line.Length <= 40 ? line : line[..40];
    }

    /// <summary>
    /// What a repair of a program with open conventions fixes: the base when it is wrong ("fix the base"; the feedback
    /// then lists two failures or more), else the occurrence ("fix the occurrence"; one failure, the test the statement
    /// does not show); empty when the two programs agree on both (docs/mini.md, "Open conventions"). Read from their
    /// last two lines.
    /// </summary>
    public static string ConventionNote(string wrong, string reference)
    {
        var (wrongOneBased, wrongLast) = Conventions(wrong);
        var (oneBased, last) = Conventions(reference);
        return wrongOneBased != oneBased ? "fix the base" : wrongLast != last ? "fix the occurrence" : "";
    }

    /// <summary>
    /// The program a one-convention repair of <paramref name="wrong"/> writes: among <paramref name="reference"/> and
    /// <paramref name="formats"/> with the reference's body, the one with the reference's base and, if the base was
    /// wrong, <paramref name="wrong"/>'s occurrence (else the reference's).
    /// </summary>
    public static string OneConventionFixed(string wrong, string reference, IReadOnlyList<string> formats)
    {
        var (wrongOneBased, wrongLast) = Conventions(wrong);
        var (oneBased, last) = Conventions(reference);
        return ProgramWithConventions(reference, formats, (oneBased, wrongOneBased != oneBased ? wrongLast : last));
    }

    /// <summary>Among <paramref name="reference"/> and <paramref name="formats"/>, the program with the reference's body and these conventions.</summary>
    static string ProgramWithConventions(string reference, IReadOnlyList<string> formats, (bool OneBased, bool Last) want)
    {
        string body = Body(reference);
        return formats.Prepend(reference).FirstOrDefault(code => Body(code) == body && Conventions(code) == want)
            ?? throw new InvalidDataException($"no program with the conventions {want} among the reference and its wrong-format programs");

        static string Body(string code) => string.Join("\n", code.TrimEnd('\n').Split('\n').SkipLast(2));
    }

    // OpCatalog's open positional terminals end in two lines: i = the chosen occurrence's 0-based position (found from
    // the right for the last one), then its print, which adds 1 when counting from 1.
    static (bool OneBased, bool Last) Conventions(string code)
    {
        string lines = string.Join("\n", code.TrimEnd('\n').Split('\n').TakeLast(2));
        return (lines.Contains("i + 1 if"), lines.Contains("rfind") || lines.Contains("[::-1]"));
    }

    /// <summary>The environment's wrong-output line (<see cref="Templates.StdioWrongOutput"/>): expected, then observed.</summary>
    static readonly Regex WrongOutput = new("Expected output `(.*?)` but got `(.*?)`", RegexOptions.Singleline);

    /// <summary>Every text of the corpus, for training the tokenizer: prompts, replies and feedback.</summary>
    public static IEnumerable<string> Texts(IEnumerable<Rollout> rollouts) =>
        rollouts.SelectMany(r => r.Conversation.Select(m => m.Content));

    /// <summary>Answers turn t of rollout i with the t-th scripted reply (a repair reads the conversation's last feedback).</summary>
    sealed class ScriptedPolicy : IPolicy
    {
        readonly ConcurrentDictionary<int, Func<Conversation, string>[]> _replies = new();

        public void Script(int rolloutIndex, Func<Conversation, string>[] replies) => _replies[rolloutIndex] = replies;

        public string Describe() => "scripted (replies drawn in advance; only repairs read the feedback)";

        public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PolicyReply(_replies[context.RolloutIndex][context.TurnIndex](conversation)));
    }

    /// <summary>The same program on the same tests gives the same verdicts: run each pair once (many conversations repeat them).</summary>
    sealed class MemoizingExecutor(ICodeExecutor inner) : ICodeExecutor
    {
        readonly ConcurrentDictionary<string, Lazy<Task<ExecutionReport>>> _cache = new();

        public Task<ExecutionReport> RunAsync(ExecutionRequest request, CancellationToken cancellationToken = default)
        {
            string key = request.Code + "\u0000" + string.Join("\u0001", request.Tests.Select(t => t.Input + "\u0002" + t.ExpectedOutput));
            return _cache.GetOrAdd(key, _ => new Lazy<Task<ExecutionReport>>(() => inner.RunAsync(request, cancellationToken))).Value;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
