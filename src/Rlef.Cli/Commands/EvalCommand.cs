using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Rlef.Environment.Datasets;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Rlef.Environment.Problems;
using Rlef.Environment.Rollouts;
using Rlef.Environment.Running;
using Rlef.Evaluation;
using Rlef.Evaluation.Report;
using Rlef.Sandbox;
using Rlef.Training.Rollouts;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef eval`: N rollouts per problem of a benchmark against a policy, persisted as they finish (an interrupted run
/// resumes), then the docs/protocol.md §4 metrics: a table on the terminal, DIR/summary.json and DIR/report.md.
/// </summary>
public static class EvalCommand
{
    /// <summary>Everything `rlef eval` takes; the command line fills it, tests build it directly.</summary>
    public sealed record Settings
    {
        public required ProblemFamily Dataset { get; init; }
        public required string DataPath { get; init; }
        /// <summary>LiveCodeBench: the release (files of a folder) and the contest-date window.</summary>
        public LiveCodeBenchSelection? LiveCodeBench { get; init; }
        public required string Policy { get; init; }
        public required string OutputDirectory { get; init; }
        public int Rollouts { get; init; } = 1;
        public int TurnLimit { get; init; } = 3;
        public double Temperature { get; init; } = 0.2;
        public double TopP { get; init; } = 0.95;
        public int MaxTokens { get; init; } = 2048;
        public int? Limit { get; init; }
        public FeedbackMode Feedback { get; init; } = FeedbackMode.Real;
        public string? RandomFeedbackPool { get; init; }
        /// <summary>Donors of --feedback random: "dataset" (incorrect_solutions, the paper's) or "own-failures"; null: own-failures when a pool file is given, else dataset.</summary>
        public string? RandomFeedbackSource { get; init; }
        /// <summary>Feedback from public and private tests at inference (the paper's App. B.3 variant); default public only.</summary>
        public bool FeedbackFromPrivateTests { get; init; }
        public int Workers { get; init; } = 8;
        public int? SandboxWorkers { get; init; }
        public int? Concurrency { get; init; }
        public string ApiKeyVariable { get; init; } = "OPENAI_API_KEY";
        public bool Prefill { get; init; } = true;
        public int Retries { get; init; } = 5;
        public double RequestTimeoutSeconds { get; init; } = 120;
        /// <summary>Consecutive connection failures or timeouts that stop the run (the endpoint is taken for dead).</summary>
        public int MaxConnectionFailures { get; init; } = 10;
        /// <summary>First retry delay (doubling, capped at a minute); tests shorten it.</summary>
        public double InitialBackoffSeconds { get; init; } = 1;
        public string? CacheDirectory { get; init; }
        public bool NoIsolation { get; init; }
        /// <summary>`URL[,URL...]` of `rlef serve sandbox` servers; null = the in-process warm pool.</summary>
        public string? SandboxUrls { get; init; }
        public string SandboxTokenVariable { get; init; } = ServeSandboxCommand.TokenVariable;
        /// <summary>Seed of the sampling of an in-process model (model:DIR).</summary>
        public int Seed { get; init; } = 1;
        /// <summary>What the report computes: n@k and pass@k lists, turn limits, bootstrap method (null: the defaults of docs/protocol.md §4).</summary>
        public IReadOnlyList<NAtK>? NAtK { get; init; }
        public IReadOnlyList<int>? PassAtK { get; init; }
        public IReadOnlyList<int>? TurnLimits { get; init; }
        public Rlef.Evaluation.Statistics.BootstrapMethod Bootstrap { get; init; } = Rlef.Evaluation.Statistics.BootstrapMethod.Rollouts;
        /// <summary>Each reply's temperature drawn from this range instead of <see cref="Temperature"/> (the paper's SFT data, App. A.3).</summary>
        public TemperatureRange? TemperatureRange { get; init; }
        /// <summary>A separate repair model for turns 2+ (the paper's App. B.4 comparison); null: <see cref="Policy"/> for every turn.</summary>
        public string? RepairPolicy { get; init; }
        /// <summary>Solved example episodes put before each conversation (the paper's few-shot baseline, App. C.3); 0: none.</summary>
        public int FewShot { get; init; }
        /// <summary>rollouts.jsonl whose solved multi-turn rollouts are the examples; null: made from the dataset's own incorrect and correct solutions.</summary>
        public string? FewShotSource { get; init; }
    }

    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = string.Join(", ", ProblemFamilies.Names), Required = true };
        dataset.AcceptOnlyFromAmong([.. ProblemFamilies.Names]);
        var data = new Option<string?>("--data") { Description = "The dataset file (JSON/JSONL, gzip or not, or parquet; for livecodebench also a folder of release files). Default: the file `rlef data fetch` put in the data cache" };
        var dataDir = new Option<string?>("--data-dir") { Description = "The data cache `rlef data fetch` fills (default ~/.cache/rlef/data)" };
        var release = new Option<string?>("--release") { Description = "livecodebench: release_vN (default: every release file present), vN (that release's new problems) or vA_vB" };
        var since = new Option<string?>("--since") { Description = "livecodebench: problems with contest_date on or after YYYY-MM-DD" };
        var until = new Option<string?>("--until") { Description = "livecodebench: problems with contest_date up to YYYY-MM-DD (00:00, as LiveCodeBench's --end_date)" };
        var policy = new Option<string>("--policy") { Description = "openai:URL#MODEL (URL = API base, e.g. http://127.0.0.1:8000/v1), model:DIR (the project's engine on a Hugging Face model directory with tokenizer.json and a chat template; generation batched across the --workers episodes in flight), replay:FILE (JSONL {task_id, replies}) or canonical (the dataset's reference solutions: checks and times the harness)", Required = true };
        var rollouts = new Option<int>("--rollouts") { Description = "Rollouts per problem.", DefaultValueFactory = _ => 1 }.Within(1, 10_000);
        var turns = new Option<int>("--turns") { Description = "Turn limit (docs/protocol.md §1: 3).", DefaultValueFactory = _ => 3 }.Within(1, 100);
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (docs/protocol.md §4: 0.2 for 1@3, 1.0 for 10@100).", DefaultValueFactory = _ => 0.2 }
            .Within(0, 10, minInclusive: true);
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling (docs/protocol.md §4: 0.95).", DefaultValueFactory = _ => 0.95 }.Within(0, 1);
        var maxTokens = new Option<int>("--max-tokens") { Description = "Token limit per reply.", DefaultValueFactory = _ => 2048 }.Within(1, 1 << 20);
        var output = new Option<string>("--out") { Description = "Output directory (rollouts.jsonl, run.json, summary.json, report.md); rerun to resume", Required = true };
        var limit = new Option<int?>("--limit") { Description = "Only the first N problems of the file." }.Within(1);
        var feedback = new Option<string>("--feedback") { Description = "real (the paper's), random (another problem's incorrect program) or none (\"Give it another try.\" only)", DefaultValueFactory = _ => "real" };
        feedback.AcceptOnlyFromAmong("real", "random", "none");
        var pool = new Option<string?>("--random-feedback-pool") { Description = "With --random-feedback-source own-failures: rollouts.jsonl of an earlier run whose failed turns feed --feedback random (this run's failed turns are added as they come)" };
        var randomSource = new Option<string?>("--random-feedback-source") { Description = "Donors of --feedback random: dataset (another problem's incorrect_solutions from the data file, the paper's; the default) or own-failures (the policy's own failed turns, from --random-feedback-pool and this run)" };
        randomSource.AcceptOnlyFromAmong("dataset", "own-failures");
        var feedbackTests = new Option<string>("--feedback-tests") { Description = "Tests each turn runs and reports: public (the paper's episodes) or all (public and private: the paper's inference-time variant with private-test feedback, App. B.3; not comparable with the main setting)", DefaultValueFactory = _ => "public" };
        feedbackTests.AcceptOnlyFromAmong("public", "all");
        var workers = new Option<int>("--workers") { Description = "Rollouts in flight at once.", DefaultValueFactory = _ => 8 }.Within(1, 4096);
        var sandboxWorkers = new Option<int?>("--sandbox-workers") { Description = "Warm sandbox workers (default: one per core)." }.Within(1, 1024);
        var concurrency = new Option<int?>("--concurrency") { Description = "HTTP requests in flight at once (default: --workers)." }.Within(1, 4096);
        var apiKey = new Option<string>("--api-key-env") { Description = "Environment variable holding the API key", DefaultValueFactory = _ => "OPENAI_API_KEY" };
        var noPrefill = new Option<bool>("--no-prefill") { Description = "Do not send HumanEval's assistant prefix for continuation (for servers without continue_final_message)" };
        var retries = new Option<int>("--retries") { Description = "Retries on 429/5xx, connection errors, timeouts and replies outside the chat-completions schema, with exponential backoff.", DefaultValueFactory = _ => 5 }.Within(0, 100);
        var timeout = new Option<double>("--request-timeout") { Description = "Seconds per HTTP attempt.", DefaultValueFactory = _ => 120 }.Within(0, 3600);
        var breaker = new Option<int>("--max-connection-failures") { Description = "Consecutive connection failures or timeouts, over all rollouts, after which the endpoint is taken for dead and the run stops (resumable); 0 = never.", DefaultValueFactory = _ => 10 }.Within(0, 10_000);
        var cache = new Option<string?>("--cache") { Description = "Directory of cached expected values for HumanEval+/MBPP+ (default ~/.cache/rlef/expected)" };
        var sandbox = new Option<string?>("--sandbox") { Description = "Run programs on remote `rlef serve sandbox` servers, URL[,URL...] (requests spread over them; connection failures, 429/5xx and infrastructure errors retried), instead of the in-process pool" };
        var sandboxToken = new Option<string>("--sandbox-token-env") { Description = "Environment variable holding the sandbox servers' bearer token", DefaultValueFactory = _ => ServeSandboxCommand.TokenVariable };
        var noIsolation = new Option<bool>("--no-isolation") { Description = "Run code without bubblewrap (debugging only: untrusted code on the host)" };
        var seed = new Option<int>("--seed") { Description = "Sampling seed of a model:DIR policy", DefaultValueFactory = _ => 1 };
        var nAtK = new Option<string?>("--n-at-k") { Description = "n@k metrics, comma-separated (default 1@3,10@100; every reply is a sample, so 10@100 draws 33 three-turn rollouts)" };
        var passAtK = new Option<string?>("--pass-at-k") { Description = "k of pass@k, comma-separated (default 1,10,100; rollouts are the samples)" };
        var turnLimits = new Option<string?>("--turn-limits") { Description = "Turn limits to report pass@k and n@k at, each <= --turns (default 1 and --turns; the paper's Fig. 4: 1,3,5,10 with --turns 10)" };
        var temperatureRange = new Option<string?>("--temperature-range") { Description = "LOW,HIGH: draw each reply's temperature from U(LOW, HIGH) instead of --temperature, recorded per turn in rollouts.jsonl (the paper's SFT data: 0.1,1.0 on the training problems, then `rlef sft`); openai: and model: policies" };
        var repairPolicy = new Option<string?>("--repair-policy") { Description = "A separate repair model for turns 2+ (same forms as --policy); turn 1 comes from --policy, e.g. a single-turn RL policy (the paper's App. B.4 comparison). The repair model's own turns count from its first (a replay file lists the repair replies only)" };
        var fewShot = new Option<int>("--few-shot") { Description = "Put K solved example episodes, with their execution feedback turns, before each conversation (the paper's few-shot baseline, App. C.3); examples chosen per problem by --seed, never the evaluated problem", DefaultValueFactory = _ => 0 }.Within(0, 64);
        var fewShotSource = new Option<string?>("--few-shot-source") { Description = "With --few-shot: rollouts.jsonl whose solved rollouts of two or more turns are the examples (default: made from the dataset's own problems, an incorrect solution then a correct one with the real feedback between)" };
        var bootstrap = new Option<string>("--bootstrap") { Description = "What the 95% CI's bootstrap redraws: rollouts (the paper's, App. B.1: each problem's N results, N with replacement) or problems", DefaultValueFactory = _ => "rollouts" };

        var command = new Command("eval", "Run rollouts of a benchmark against a policy and report n@k, pass@k and behaviour (docs/protocol.md §4).");
        foreach (Option o in new Option[] { dataset, data, dataDir, release, since, until, policy, rollouts, turns, temperature, topP, maxTokens, output, limit,
                     feedback, pool, randomSource, feedbackTests, workers, sandboxWorkers, sandbox, sandboxToken, concurrency, apiKey, noPrefill,
                     retries, timeout, breaker, cache, noIsolation, seed, nAtK, passAtK, turnLimits, bootstrap, temperatureRange, repairPolicy, fewShot, fewShotSource })
            command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var family = ProblemFamilies.Parse(parse.GetValue(dataset)!);
            var selection = LiveCodeBenchOptions(family, parse.GetValue(release), parse.GetValue(since), parse.GetValue(until));
            string dataPath = parse.GetValue(data) ?? DataCache.EvalPath(family, parse.GetValue(dataDir));
            var settings = new Settings
            {
                Dataset = family,
                DataPath = dataPath,
                LiveCodeBench = selection,
                Policy = parse.GetValue(policy)!,
                OutputDirectory = parse.GetValue(output)!,
                Rollouts = parse.GetValue(rollouts),
                TurnLimit = parse.GetValue(turns),
                Temperature = parse.GetValue(temperature),
                TopP = parse.GetValue(topP),
                MaxTokens = parse.GetValue(maxTokens),
                Limit = parse.GetValue(limit),
                Feedback = Enum.Parse<FeedbackMode>(parse.GetValue(feedback)!, ignoreCase: true),
                RandomFeedbackPool = parse.GetValue(pool),
                RandomFeedbackSource = parse.GetValue(randomSource),
                FeedbackFromPrivateTests = parse.GetValue(feedbackTests) == "all",
                Workers = parse.GetValue(workers),
                SandboxWorkers = parse.GetValue(sandboxWorkers),
                Concurrency = parse.GetValue(concurrency),
                ApiKeyVariable = parse.GetValue(apiKey)!,
                Prefill = !parse.GetValue(noPrefill),
                Retries = parse.GetValue(retries),
                RequestTimeoutSeconds = parse.GetValue(timeout),
                MaxConnectionFailures = parse.GetValue(breaker),
                CacheDirectory = parse.GetValue(cache),
                NoIsolation = parse.GetValue(noIsolation),
                SandboxUrls = parse.GetValue(sandbox),
                SandboxTokenVariable = parse.GetValue(sandboxToken)!,
                Seed = parse.GetValue(seed),
                NAtK = parse.GetValue(nAtK) is string nk ? EvaluationOptions.ParseNAtKList(nk) : null,
                PassAtK = parse.GetValue(passAtK) is string pk ? EvaluationOptions.ParseIntList(pk, "--pass-at-k") : null,
                TurnLimits = parse.GetValue(turnLimits) is string tl ? EvaluationOptions.ParseIntList(tl, "--turn-limits") : null,
                Bootstrap = Rlef.Evaluation.Statistics.BootstrapMethods.Parse(parse.GetValue(bootstrap)!),
                TemperatureRange = parse.GetValue(temperatureRange) is string range ? TemperatureRange.Parse(range, parse.GetValue(seed)) : null,
                RepairPolicy = parse.GetValue(repairPolicy),
                FewShot = parse.GetValue(fewShot),
                FewShotSource = parse.GetValue(fewShotSource),
            };
            return await RunAsync(settings, AnsiConsole.Console, ct);
        });
        return command;
    }

    /// <summary>--release/--since/--until, which only LiveCodeBench has; a malformed one is a user error.</summary>
    private static LiveCodeBenchSelection? LiveCodeBenchOptions(ProblemFamily family, string? release, string? since, string? until)
    {
        if (family != ProblemFamily.LiveCodeBench)
            return release is null && since is null && until is null ? null
                : throw new UserError("--release, --since and --until apply to --dataset livecodebench only");
        static DateOnly? Day(string? text, string option) => text is null ? null
            : DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d
            : throw new UserError($"{option} {text}: expected YYYY-MM-DD");
        if (release is not null)
            LiveCodeBenchLoader.ReleaseFileNames(release); // validates the name
        return new LiveCodeBenchSelection { Release = release, Since = Day(since, "--since"), Until = Day(until, "--until") };
    }

    /// <summary>
    /// What a resumed run must find unchanged: the data file's SHA-256, or for several files (a LiveCodeBench
    /// release) and date filters, the SHA-256 of their hashes and the filter.
    /// </summary>
    private static string DataIdentity(Settings s)
    {
        var files = DatasetLoader.Files(s.Dataset, s.DataPath, s.LiveCodeBench);
        if (files.Count == 1 && s.LiveCodeBench is null or { Since: null, Until: null })
            return DataFile.Sha256(files[0]);
        string text = string.Join("\n", files.Select(f => DataFile.Sha256(f) + "  " + Path.GetFileName(f)))
            + $"\nsince {s.LiveCodeBench?.Since:yyyy-MM-dd} until {s.LiveCodeBench?.Until:yyyy-MM-dd}";
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>The whole command: load, (compute expected values), roll out, report. Returns the exit code.</summary>
    public static async Task<int> RunAsync(Settings s, IAnsiConsole console, CancellationToken cancellationToken)
    {
        if (s.Rollouts < 1 || s.TurnLimit < 1 || s.Workers < 1)
            throw new ArgumentException("--rollouts, --turns and --workers must be at least 1");
        if (s.TurnLimits?.FirstOrDefault(l => l > s.TurnLimit) is int tooLong and > 0)
            throw new ArgumentException($"--turn-limits: {tooLong} is more than --turns {s.TurnLimit}; a rollout cannot be cut after turns it never had");

        var dataNotes = new List<string>();
        var problems = LoadProblems(s, dataNotes);
        foreach (string note in dataNotes)
            console.MarkupLineInterpolated($"[yellow]data:[/] {note}");

        if (s.FewShotSource is not null && s.FewShot == 0)
            throw new ArgumentException("--few-shot-source needs --few-shot K");
        PolicySpec spec = PolicySpec.Parse(s.Policy);
        PolicySpec? repairSpec = s.RepairPolicy is null ? null : PolicySpec.Parse(s.RepairPolicy);
        if (s.TemperatureRange is not null && !spec.Samples && repairSpec?.Samples != true)
            throw new ArgumentException("--temperature-range applies to policies that sample (openai:, model:)");
        IPolicy Create(PolicySpec which) => which.Create((url, model) => new OpenAiOptions
        {
            BaseUrl = url,
            Model = model,
            ApiKeyVariable = s.ApiKeyVariable,
            Temperature = s.Temperature,
            TopP = s.TopP,
            MaxTokens = s.MaxTokens,
            MaxConcurrency = s.Concurrency ?? s.Workers,
            MaxRetries = s.Retries,
            RequestTimeout = TimeSpan.FromSeconds(s.RequestTimeoutSeconds),
            InitialBackoff = TimeSpan.FromSeconds(s.InitialBackoffSeconds),
            CircuitBreakerThreshold = s.MaxConnectionFailures,
            Prefill = s.Prefill,
            TemperatureRange = s.TemperatureRange,
        }, directory => LoadModel(s, directory), problems);
        using var policy = AsDisposable(repairSpec is null ? Create(spec) : new RepairPolicy(Create(spec), Create(repairSpec)));
        bool sampling = spec.Samples || repairSpec?.Samples == true;
        var settings = new RunSettings
        {
            Dataset = s.Dataset.ToName(),
            DataSha256 = DataIdentity(s),
            Policy = policy.Inner.Identity(),
            TurnLimit = s.TurnLimit,
            Feedback = s.Feedback.ToString().ToLowerInvariant(),
            Temperature = sampling && s.TemperatureRange is null ? s.Temperature : null,
            TopP = sampling ? s.TopP : null,
            MaxTokens = sampling ? s.MaxTokens : null,
            TemperatureRange = s.TemperatureRange?.ToString(),
        };
        // Checked before the expected values are computed; a few-shot policy's identity names its examples, known later.
        if (s.FewShot == 0)
            EvaluationRun.CheckOrWriteSettings(s.OutputDirectory, settings);

        await using ICodeExecutor executor = s.SandboxUrls is { Length: > 0 } urls
            ? Training.Executors.Remote(urls, s.SandboxTokenVariable)
            : new SandboxPool(new SandboxOptions
            {
                Workers = s.SandboxWorkers ?? System.Environment.ProcessorCount,
                Isolation = !s.NoIsolation,
            });

        var expectedClock = System.Diagnostics.Stopwatch.StartNew();
        if (DatasetLoader.NeedsExpectedValues(s.Dataset))
            problems = await FillExpectedValuesAsync(s, problems, executor, console, cancellationToken);
        double expectedSeconds = expectedClock.Elapsed.TotalSeconds;

        IIncorrectProgramSource? donors = null;
        string source = s.RandomFeedbackSource ?? (s.RandomFeedbackPool is null ? "dataset" : "own-failures");
        if (s.Feedback == FeedbackMode.Random && source == "dataset")
        {
            if (s.RandomFeedbackPool is not null)
                throw new ArgumentException("--random-feedback-pool feeds --random-feedback-source own-failures, not dataset");
            var dataset = new DatasetIncorrectSolutions(problems);
            if (dataset.Count == 0)
                throw new InvalidDataException($"{s.DataPath}: no problem has incorrect_solutions in Python 3, which the paper's random feedback runs; " +
                                               "use --random-feedback-source own-failures (the policy's own failed turns) instead");
            console.MarkupLineInterpolated($"random feedback: {dataset.Count} incorrect solutions of the dataset's problems (the paper's ablation)");
            donors = dataset;
        }
        else if (s.Feedback == FeedbackMode.Random)
        {
            var pool = s.RandomFeedbackPool is null ? new IncorrectProgramPool() : IncorrectProgramPool.FromRollouts(RolloutStore.Read(s.RandomFeedbackPool));
            console.MarkupLineInterpolated($"random feedback: {pool.Count} of the policy's own failed programs from {s.RandomFeedbackPool ?? "(no --random-feedback-pool)"}; this run's failed turns are added as they finish");
            if (pool.Count == 0)
                console.MarkupLine("[yellow]the pool starts empty:[/] rollouts that need feedback before any other problem has failed are logged to errors.log and retried by the next run");
            donors = pool;
        }

        IPolicy evaluated = policy.Inner;
        if (s.FewShot > 0)
        {
            IReadOnlyList<FewShotExample> pool = s.FewShotSource is not null
                ? FewShotExamples.FromRollouts(s.FewShotSource)
                : await FewShotExamples.FromDatasetAsync(problems, executor, s.FewShot + 1, s.Seed, cancellationToken);
            string exampleSource = s.FewShotSource ?? "the dataset's incorrect and correct solutions";
            evaluated = new FewShotPolicy(evaluated, pool, s.FewShot, s.Seed, exampleSource);
            console.MarkupLineInterpolated($"few-shot: {s.FewShot} of {pool.Count} solved example episodes ({exampleSource}) before each conversation");
        }

        var request = new EvaluationRequest
        {
            Problems = problems,
            Policy = evaluated,
            Executor = executor,
            Episode = new EpisodeOptions { TurnLimit = s.TurnLimit, Feedback = s.Feedback, FeedbackFromPrivateTests = s.FeedbackFromPrivateTests },
            RolloutsPerProblem = s.Rollouts,
            Workers = s.Workers,
            OutputDirectory = s.OutputDirectory,
            Settings = settings,
            IncorrectPrograms = donors,
            DataNotes = dataNotes,
            Report = new EvaluationOptions
            {
                Dataset = s.Dataset.ToName(),
                Policy = evaluated.Describe(),
                RepairPolicy = (policy.Inner as RepairPolicy)?.Repair.Describe(),
                FewShot = s.FewShot > 0 ? $"{s.FewShot} solved example episodes per problem from {s.FewShotSource ?? "the dataset's incorrect and correct solutions"} (seed {s.Seed})" : null,
                TemperatureRange = s.TemperatureRange?.ToString(),
                FeedbackMode = (s.Feedback == FeedbackMode.Real ? "execution"
                    : s.Feedback == FeedbackMode.Random ? $"random (donors: {donors!.Description})" : s.Feedback.ToString().ToLowerInvariant())
                    + (s.FeedbackFromPrivateTests ? ", from public and private tests" : ""),
                Temperature = s.TemperatureRange is null ? s.Temperature : null,
                NAtK = s.NAtK ?? new EvaluationOptions().NAtK,
                PassAtK = s.PassAtK ?? new EvaluationOptions().PassAtK,
                TurnLimits = s.TurnLimits,
                Bootstrap = s.Bootstrap,
            },
        };
        EvaluationOutcome outcome = null!;
        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask("rollouts", maxValue: problems.Count * s.Rollouts);
                outcome = await EvaluationService.RunAsync(request, p =>
                {
                    task.Value = p.Done;
                    string errors = p.Failed > 0 ? FormattableString.Invariant($" · {p.Failed} errors") : "";
                    task.Description = FormattableString.Invariant($"{p.Done}/{p.Total} rollouts · {p.RolloutsPerSecond:0.00}/s · solved {100 * p.SolveRate:0.0}%{errors}");
                }, cancellationToken);
            });
        var result = outcome.Run;
        if (result.RepairNote is not null)
            console.MarkupLineInterpolated($"[yellow]{result.RepairNote}[/]");

        var timing = Timing.From(result.FinishedThisSession, problems.Count, result.Elapsed) with { ExpectedValuesSeconds = expectedSeconds };
        File.WriteAllText(Path.Combine(s.OutputDirectory, "timing.json"), JsonSerializer.Serialize(timing, new JsonSerializerOptions(RolloutStore.Json) { WriteIndented = true }) + "\n");

        return ReportOutcome(s, outcome, timing, evaluated.Describe(), console);
    }

    /// <summary>The problems to evaluate: the file's, the first --limit of them; each must have tests.</summary>
    private static IReadOnlyList<Problem> LoadProblems(Settings s, ICollection<string> notes)
    {
        IReadOnlyList<Problem> problems = DatasetLoader.Load(s.Dataset, s.DataPath, notes, s.LiveCodeBench);
        if (s.Limit is int n)
            problems = problems.Take(n).ToList();
        if (problems.Count == 0)
            throw new InvalidDataException($"{s.DataPath}: no problems");
        if (problems.FirstOrDefault(p => !p.HasTests) is { } untested)
            throw new InvalidDataException(
                $"{s.DataPath}: problem '{untested.Id}' has no tests. This file holds problem statements only (e.g. CodeT's copy of " +
                "CodeContests, CodeContests_test165_prompts_codet.jsonl); evaluation needs the Hugging Face export with public_tests/private_tests/generated_tests.");
        return problems;
    }

    /// <summary>HumanEval+/MBPP+: expected values of the private tests from the canonical solutions (cached).</summary>
    private static async Task<IReadOnlyList<Problem>> FillExpectedValuesAsync(Settings s, IReadOnlyList<Problem> problems, ICodeExecutor executor,
        IAnsiConsole console, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ExpectedValues.Result filled = null!;
        await console.Status().StartAsync("computing expected values with the canonical solutions (cached afterwards)", async ctx =>
        {
            filled = await ExpectedValues.FillAsync(problems, s.DataPath, executor, s.CacheDirectory, parallelism: s.Workers,
                progress: (done, total) => ctx.Status($"computing expected values: {done}/{total} problems"), cancellationToken: cancellationToken);
        });
        foreach (string d in filled.Dropped)
            console.MarkupLineInterpolated($"[yellow]dropped test[/] {d}");
        console.WriteLine(FormattableString.Invariant(
            $"expected values: {(filled.FromCache ? "from the cache" : "computed")} in {clock.Elapsed.TotalSeconds:0.0} s"));
        return filled.Problems;
    }

    /// <summary>The metrics table and timing on the console; for an incomplete run, what is missing on stderr and exit code 1.</summary>
    private static int ReportOutcome(Settings s, EvaluationOutcome outcome, Timing timing, string policy, IAnsiConsole console)
    {
        var result = outcome.Run;
        if (outcome.Report is { } report)
        {
            var table = new Table().Title(Markup.Escape($"{s.Dataset.ToName()} · {policy} · {report.ProblemCount} problems · {report.RolloutsPerProblemText} rollouts/problem" +
                                                        (outcome.IsComplete ? "" : " · PARTIAL")));
            table.AddColumn("metric").AddColumn("setting").AddColumn(new TableColumn("value [[95% CI]]").RightAligned());
            foreach (var row in report.ToTable())
                table.AddRow(Markup.Escape(row.Metric), Markup.Escape(row.Setting), Markup.Escape(row.Estimate.ToPercentText()));
            console.Write(table);
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{timing.ProblemsPerSecond:0.00} problems/s · {timing.RolloutsPerSecond:0.00} rollouts/s this session · summed over rollouts: " +
                $"sandbox {timing.SandboxSeconds:0.0} s, policy {timing.PolicySeconds:0.0} s, harness {timing.HarnessSeconds:0.0} s"));
        }
        console.MarkupLineInterpolated($"wrote {Path.Combine(s.OutputDirectory, ReportWriter.SummaryFile)} and {Path.Combine(s.OutputDirectory, ReportWriter.MarkdownFile)}");
        if (outcome.IsComplete)
            return 0;

        // An incomplete run is a failure of the command, said on stderr as well as in summary.json and report.md.
        Completeness c = outcome.Completeness;
        string errorsLog = Path.Combine(s.OutputDirectory, EvaluationRun.ErrorsFile);
        if (result.StoppedReason is not null)
            Console.Error.WriteLine($"rlef eval: stopped: {result.StoppedReason}");
        if (outcome.Report is null)
            Console.Error.WriteLine($"rlef eval: no rollout finished; see {errorsLog}");
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"rlef eval: INCOMPLETE: {c.ProblemsNotEvaluated} of {c.ProblemsRequested} problems not evaluated ({c.RolloutsRequested - c.RolloutsFinished} of {c.RolloutsRequested} rollouts missing; see {errorsLog}); " +
            $"solve rate over all requested rollouts {100 * c.SolveRateOverRequested:0.0}% (unevaluated = unsolved); rerun the same command to complete the run"));
        return 1;
    }

    /// <summary>Where this session's time went (resumed rollouts excluded). Sums are over rollouts (they overlap when
    /// workers run in parallel); the harness share is wall time inside episodes not spent waiting for the policy or
    /// the sandbox (prompt building, code extraction, feedback rendering, bookkeeping).</summary>
    public sealed record Timing(int Problems, int Rollouts, double WallSeconds, double ProblemsPerSecond, double RolloutsPerSecond,
        double SandboxSeconds, double PolicySeconds, double HarnessSeconds)
    {
        /// <summary>Time spent before the rollouts computing (or reading) HumanEval+/MBPP+ expected values.</summary>
        public double ExpectedValuesSeconds { get; init; }

        public static Timing From(IReadOnlyList<Rollout> rollouts, int problems, TimeSpan elapsed)
        {
            double wall = Math.Max(elapsed.TotalSeconds, 1e-9);
            double sandbox = rollouts.Sum(r => r.SandboxMs) / 1000, policy = rollouts.Sum(r => r.PolicyMs) / 1000;
            double episodes = rollouts.Sum(r => r.WallMs) / 1000;
            int rolloutsPerProblem = problems > 0 ? Math.Max(1, rollouts.Count / problems) : 1;
            return new Timing(problems, rollouts.Count, elapsed.TotalSeconds, rollouts.Count / (double)rolloutsPerProblem / wall,
                rollouts.Count / wall, sandbox, policy, Math.Max(0, episodes - sandbox - policy));
        }
    }

    /// <summary>`model:DIR`: the engine in this process, one generation batch for all the rollouts in flight.</summary>
    private static ModelPolicy LoadModel(Settings s, string directory)
    {
        return ModelPolicy.Load(directory, new Rlef.Engine.Sampling.SamplingOptions
        {
            Temperature = (float)s.Temperature,
            TopP = (float)s.TopP,
            MaxTokens = s.MaxTokens,
            Seed = s.Seed,
        }, concurrentEpisodes: s.Workers, temperatures: s.TemperatureRange);
    }

    private static DisposablePolicy AsDisposable(IPolicy policy) => new(policy);

    private sealed class DisposablePolicy(IPolicy inner) : IDisposable
    {
        public IPolicy Inner { get; } = inner;
        public void Dispose() => (Inner as IDisposable)?.Dispose();
    }
}
