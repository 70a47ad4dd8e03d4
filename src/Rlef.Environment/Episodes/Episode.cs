using System.Diagnostics;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Sandbox;

namespace Rlef.Environment.Episodes;

/// <summary>Where the feedback between turns comes from (docs/protocol.md §3/§4 ablations).</summary>
public enum FeedbackMode
{
    /// <summary>The paper's environment: this turn's code on this problem's public tests.</summary>
    Real,
    /// <summary>An incorrect program of a different problem, run on this problem's public tests.</summary>
    Random,
    /// <summary>Only "Give it another try." (and the format line); the episode always runs to the turn limit.</summary>
    None,
}

/// <summary>Episode settings; defaults are the paper's (docs/protocol.md §1, §2).</summary>
public sealed record EpisodeOptions
{
    public int TurnLimit { get; init; } = 3;
    public FeedbackMode Feedback { get; init; } = FeedbackMode.Real;
    /// <summary>docs/protocol.md §2: reward of a non-final turn whose reply has no valid code.</summary>
    public double InvalidCodeReward { get; init; } = -0.2;
    /// <summary>
    /// A fenced block that does not compile (the sandbox's syntax_error) is invalid code: outcome class
    /// <see cref="TurnOutcome.InvalidCode"/> and, on a non-final turn, <see cref="InvalidCodeReward"/>. The paper's penalty
    /// is for replies without valid code (docs/protocol.md §1-2), so true is the paper's; false treats such a turn as an
    /// exception with no penalty. The feedback is the SyntaxError's traceback either way (§1: stack traces, syntax
    /// errors included).
    /// </summary>
    public bool SyntaxErrorIsInvalidCode { get; init; } = true;
    /// <summary>
    /// The paper's episodes (docs/protocol.md §1) run and show the public tests only: false, the default. true is the
    /// paper's inference-time variant with feedback from the private tests too (App. B.3): every turn runs public and
    /// private tests, the feedback lists failures among all of them, and the episode stops once all pass. Evaluation
    /// only: it shows the judging tests to the policy, so its solve rates are not comparable with the main setting.
    /// </summary>
    public bool FeedbackFromPrivateTests { get; init; }
    public double SuccessReward { get; init; } = 1;
    public double FailureReward { get; init; } = -1;
}

/// <summary>Supplies incorrect programs of other problems for the random-feedback ablation.</summary>
public interface IIncorrectProgramSource
{
    /// <summary>A short name for reports, e.g. "the dataset's incorrect_solutions".</summary>
    string Description { get; }

    /// <summary>
    /// Incorrect programs of problems other than <paramref name="taskId"/>, in the order the episode tries them (a
    /// reproducible function of the episode coordinates and the source's content); empty when none is available.
    /// </summary>
    IEnumerable<(string TaskId, string Code)> Candidates(string taskId, int rolloutIndex, int turnIndex);
}

/// <summary>
/// Runs one episode exactly as docs/protocol.md §1: prompt, reply, extract the first fenced block, run it on the public tests,
/// stop when they all pass or at the turn limit, otherwise answer with the feedback and continue; the last code is
/// judged on all tests. Rewards per §2 (KL is the trainer's business).
/// </summary>
public sealed class Episode(ICodeExecutor executor, IPolicy policy, EpisodeOptions options, IIncorrectProgramSource? incorrectPrograms = null)
{
    public async Task<Rollout> RunAsync(Problem problem, int rolloutIndex, CancellationToken cancellationToken = default)
    {
        if (!problem.HasTests)
            throw new InvalidOperationException($"{problem.Id}: the problem has no tests, so it cannot be evaluated");
        if (options.TurnLimit < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "the turn limit must be at least 1");
        if (options.Feedback == FeedbackMode.Random && incorrectPrograms is null)
            throw new InvalidOperationException("random feedback needs a source of incorrect programs");

        var wall = Stopwatch.StartNew();
        var messages = new List<ChatMessage> { ChatMessage.User(Templates.InitialPrompt(problem)) };
        var turns = new List<TurnRecord>();
        double policyMs = 0, sandboxMs = 0;
        string? submission = null;
        bool submissionPassesPublic = false;

        for (int t = 0; t < options.TurnLimit; t++)
        {
            bool last = t == options.TurnLimit - 1;
            var clock = Stopwatch.StartNew();
            var reply = await policy.ReplyAsync(
                new Conversation(messages.ToList(), problem.AssistantPrefix), new PolicyContext(problem.Id, rolloutIndex, t, options.TurnLimit), cancellationToken);
            double turnPolicyMs = clock.Elapsed.TotalMilliseconds;
            messages.Add(ChatMessage.Assistant(reply.Text));

            string? code = CodeExtractor.Extract(reply.Text);
            submission = code;
            TurnOutcome outcome;
            IReadOnlyList<TestResult> results = [];
            double turnSandboxMs = 0;
            if (code is null)
            {
                outcome = TurnOutcome.InvalidCode;
                submissionPassesPublic = false;
            }
            else
            {
                clock.Restart();
                results = await RunTestsAsync(problem, code, FeedbackTests(problem), cancellationToken);
                turnSandboxMs = clock.Elapsed.TotalMilliseconds;
                outcome = Classify(results);
                if (options.SyntaxErrorIsInvalidCode && results.Any(r => r.Verdict == Verdict.SyntaxError))
                    outcome = TurnOutcome.InvalidCode;
                submissionPassesPublic = outcome == TurnOutcome.Passed;
            }

            // docs/protocol.md §1: stop when the public tests pass or at the turn limit. Without feedback (the ablation) the
            // public tests are never consulted, so the episode always runs to the limit.
            bool stop = last || (options.Feedback != FeedbackMode.None && submissionPassesPublic);
            string? feedback = null;
            string? feedbackFrom = null;
            if (!stop)
            {
                clock.Restart();
                (feedback, feedbackFrom) = code is null
                    ? (Templates.InvalidCodeReply, null)
                    : await FeedbackAsync(problem, rolloutIndex, t, results, cancellationToken);
                turnSandboxMs += clock.Elapsed.TotalMilliseconds;
                messages.Add(ChatMessage.User(feedback));
            }

            policyMs += turnPolicyMs;
            sandboxMs += turnSandboxMs;
            turns.Add(new TurnRecord
            {
                Index = t,
                Prompt = messages[2 * t].Content,
                Reply = reply.Text,
                Code = code,
                PublicOutcome = outcome,
                PublicResults = results.Select(ToRecord).ToList(),
                Feedback = feedback,
                FeedbackFrom = feedbackFrom,
                Reward = !stop && outcome == TurnOutcome.InvalidCode ? options.InvalidCodeReward : 0,
                PolicyMs = turnPolicyMs,
                SandboxMs = turnSandboxMs,
                Temperature = reply.Temperature,
            });
            if (stop)
                break;
        }

        // Final judgement on all tests. Public results are the last turn's; private tests run only when the public
        // ones passed (otherwise the submission already fails).
        string privateVerdicts = "";
        var privateFailures = new List<TestRecord>();
        bool passedAll = false;
        if (submission is not null && submissionPassesPublic && options.FeedbackFromPrivateTests)
            passedAll = true; // the last turn already ran every test and passed them all
        else if (submission is not null && submissionPassesPublic)
        {
            var clock = Stopwatch.StartNew();
            var privateResults = problem.PrivateTests.Count == 0 ? [] : await RunTestsAsync(problem, submission, problem.PrivateTests, cancellationToken);
            sandboxMs += clock.Elapsed.TotalMilliseconds;
            privateVerdicts = VerdictLetters.Encode(privateResults);
            privateFailures = privateResults.Where(r => r.Verdict != Verdict.Passed).Take(3).Select(ToRecord).ToList();
            passedAll = privateResults.All(r => r.Verdict == Verdict.Passed);
        }

        var lastTurn = turns[^1];
        turns[^1] = lastTurn with { Reward = lastTurn.Reward + (passedAll ? options.SuccessReward : options.FailureReward) };
        return new Rollout
        {
            TaskId = problem.Id,
            RolloutIndex = rolloutIndex,
            Dataset = problem.Family.ToName(),
            TurnLimit = options.TurnLimit,
            FeedbackMode = options.Feedback.ToString().ToLowerInvariant(),
            Conversation = messages,
            Turns = turns,
            PassedAll = passedAll,
            PrivateVerdicts = privateVerdicts,
            PrivateFailures = privateFailures,
            TotalReward = turns.Sum(t => t.Reward),
            PolicyMs = policyMs,
            SandboxMs = sandboxMs,
            WallMs = wall.Elapsed.TotalMilliseconds,
            FinishedAt = DateTimeOffset.UtcNow,
        };
    }

    private async Task<(string Feedback, string? From)> FeedbackAsync(
        Problem problem, int rolloutIndex, int turn, IReadOnlyList<TestResult> results, CancellationToken ct)
    {
        switch (options.Feedback)
        {
            case FeedbackMode.Real:
                return (Feedback.Render(problem, FeedbackTests(problem), results), null);
            case FeedbackMode.None:
                return (Templates.NoFeedback(problem.Family), null);
            default:
                // docs/protocol.md §4: the feedback an incorrect program of another problem gets on this problem's public
                // tests. A donor that happens to pass them gives no failure to show, so the next one is tried; when no
                // donor fails, the episode fails, as the paper's implementation raises.
                int tried = 0;
                foreach (var donor in incorrectPrograms!.Candidates(problem.Id, rolloutIndex, turn))
                {
                    tried++;
                    var randomResults = await RunTestsAsync(problem, donor.Code, FeedbackTests(problem), ct);
                    if (randomResults.Any(r => r.Verdict != Verdict.Passed))
                        return (Feedback.Render(problem, FeedbackTests(problem), randomResults), donor.TaskId);
                }
                throw new InvalidOperationException(tried == 0
                    ? $"{problem.Id}: random feedback: no incorrect program of another problem in {incorrectPrograms.Description}"
                    : $"{problem.Id}: random feedback: none of the {tried} incorrect programs of other problems in {incorrectPrograms.Description} fails this problem's public tests");
        }
    }

    /// <summary>The tests each turn runs and the feedback reports: public, or public and private (see <see cref="EpisodeOptions.FeedbackFromPrivateTests"/>).</summary>
    private IReadOnlyList<ProblemTest> FeedbackTests(Problem problem) =>
        options.FeedbackFromPrivateTests ? problem.PublicTests.Concat(problem.PrivateTests).ToList() : problem.PublicTests;

    private async Task<IReadOnlyList<TestResult>> RunTestsAsync(Problem problem, string code, IReadOnlyList<ProblemTest> tests, CancellationToken ct)
    {
        if (tests.Count == 0)
            return [];
        var report = await executor.RunAsync(new ExecutionRequest
        {
            Code = problem.CodePrefix + code + problem.CodeSuffix,
            Tests = tests.Select(t => t.Case).ToList(),
            Comparison = problem.Comparison,
            Limits = problem.Limits,
        }, ct);
        if (report.Results.Count != tests.Count)
            throw new InvalidOperationException($"{problem.Id}: the sandbox returned {report.Results.Count} results for {tests.Count} tests");
        if (report.Results.FirstOrDefault(r => r.Verdict == Verdict.InfraError) is { } infra)
            throw new InvalidOperationException($"{problem.Id}: sandbox infrastructure error: {infra.Error}");
        return problem.CodePrefix.Length == 0 ? report.Results : report.Results.Select(SolutionLines.Unshift).ToList();
    }

    /// <summary>The turn's outcome class: passed if every public test passed, else the class of the first failure.</summary>
    public static TurnOutcome Classify(IReadOnlyList<TestResult> results)
    {
        foreach (var r in results)
        {
            switch (r.Verdict)
            {
                case Verdict.Passed: continue;
                case Verdict.WrongAnswer or Verdict.OutputLimit: return TurnOutcome.WrongOutput;
                // A failed assert of a function test is a wrong output, not a crash of the solution.
                case Verdict.RuntimeError when Feedback.TraceAssertion(r) is not null: return TurnOutcome.WrongOutput;
                case Verdict.Timeout: return TurnOutcome.Timeout;
                case Verdict.MemoryLimit: return TurnOutcome.OutOfMemory;
                default: return TurnOutcome.Exception;
            }
        }
        return TurnOutcome.Passed;
    }

    private static TestRecord ToRecord(TestResult r) => r.Verdict == Verdict.Passed
        ? new TestRecord(r.Verdict.ToName(), Math.Round(r.TimeMs, 2))
        : new TestRecord(r.Verdict.ToName(), Math.Round(r.TimeMs, 2), Shorten(r.Error ?? (r.Actual is null ? null : $"got {r.Actual}")));

    private static string? Shorten(string? s) => s is null || s.Length <= 300 ? s : s[..150] + " ... " + s[^150..];
}
