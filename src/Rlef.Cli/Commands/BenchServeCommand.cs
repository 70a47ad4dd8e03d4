using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Rlef.Benchmarks.Serving;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef bench serve [--model DIR] [--concurrency 1,32] [--requests N] [--max-tokens N] [--repeat N] [--iterations N]
/// [--rollouts N] [--skip-lag] [--json]`: tokens/s through `rlef serve model` over HTTP vs the in-process sampler (same
/// run, alternating; the ratio), then the miniature's RLEF iterations with max_policy_lag 0 vs 1 (wall time, split).
/// </summary>
public static class BenchServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory to serve and train", DefaultValueFactory = _ => "models/mini" };
        var concurrency = new Option<string>("--concurrency") { Description = "Comma-separated concurrencies", DefaultValueFactory = _ => "1,32" };
        var requests = new Option<int>("--requests") { Description = "Requests per concurrency (a multiple of it is best)", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per reply at most", DefaultValueFactory = _ => 64 };
        var iterations = new Option<int>("--iterations") { Description = "RLEF iterations per lag setting", DefaultValueFactory = _ => 2 };
        var rollouts = new Option<int>("--rollouts") { Description = "Rollouts per RLEF iteration", DefaultValueFactory = _ => 64 };
        var config = new Option<string>("--config") { Description = "RLEF config of the lag comparison", DefaultValueFactory = _ => "configs/mini.yaml" };
        var work = new Option<string?>("--work") { Description = "Working directory for data and runs (default: a temporary one, removed)" };
        var repeat = new Option<int>("--repeat") { Description = "Send the requests this many times (alternating rounds each time): more rounds, less noise", DefaultValueFactory = _ => 3 };
        var skipLag = new Option<bool>("--skip-lag") { Description = "Only the throughput comparison" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("serve", "Tokens/s through rlef serve model over HTTP vs in process (ratio), and RLEF iterations with max_policy_lag 0 vs 1.")
        {
            model, concurrency, requests, maxTokens, repeat, iterations, rollouts, config, work, skipLag, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            int[] levels;
            try
            {
                levels = parse.GetValue(concurrency)!.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            }
            catch (FormatException)
            {
                Console.Error.WriteLine("rlef bench serve: --concurrency must be comma-separated integers, e.g. 1,32");
                return 2;
            }
            if (levels.Any(c => c < 1) || parse.GetValue(requests) < 1 || parse.GetValue(maxTokens) < 1 || parse.GetValue(repeat) < 1 || parse.GetValue(iterations) < 1 || parse.GetValue(rollouts) < 2)
            {
                Console.Error.WriteLine("rlef bench serve: concurrencies, --requests, --max-tokens, --repeat and --iterations must be >= 1, --rollouts >= 2");
                return 2;
            }
            string modelDirectory = parse.GetValue(model)!;
            if (!File.Exists(Path.Combine(modelDirectory, "config.json")))
            {
                Console.Error.WriteLine($"rlef bench serve: '{modelDirectory}' is not a model directory (no config.json)");
                return 2;
            }
            TextWriter? log = parse.GetValue(json) ? null : Console.Error;
            var throughput = new List<ServeThroughput>();
            foreach (int c in levels)
                throughput.Add(await ServeBenchmark.ThroughputAsync(modelDirectory, c, Math.Max(parse.GetValue(requests), c), parse.GetValue(maxTokens), parse.GetValue(repeat), log, cancellationToken));
            var lags = new List<LagRun>();
            if (!parse.GetValue(skipLag))
            {
                string dir = parse.GetValue(work) ?? Directory.CreateTempSubdirectory("rlef-bench-serve-").FullName;
                try
                {
                    foreach (int lag in new[] { 0, 1 })
                        lags.Add(await ServeBenchmark.MiniIterationsAsync(modelDirectory, parse.GetValue(config)!, lag, parse.GetValue(iterations),
                            parse.GetValue(rollouts), dir, log, cancellationToken));
                }
                finally
                {
                    if (parse.GetValue(work) is null) Directory.Delete(dir, recursive: true);
                }
            }
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { throughput, lags }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                return 0;
            }
            Console.WriteLine("concurrency  requests  repeats  HTTP tok/s  in-process tok/s  ratio  median round ratio  server mean batch  server generation s  HTTP s  in-process s  same tokens");
            foreach (var t in throughput)
                Console.WriteLine($"{t.Concurrency,11}  {t.Requests,8}  {t.Repeats,7}  {t.HttpTokensPerSecond,10:F1}  {t.InProcessTokensPerSecond,16:F1}  {t.Ratio,5:F2}  {t.MedianRoundRatio,18:F2}  {t.ServerMeanBatch,17:F1}  {t.ServerGenerationSeconds,19:F2}  {t.HttpSeconds,6:F2}  {t.InProcessSeconds,12:F2}  {(t.SameTokens ? "yes" : "NO"),11}");
            Console.WriteLine("ratio: HTTP / in-process tokens per second over all rounds; median round ratio: the same per round (one preempted round on a shared machine does not move it)");
            if (lags.Count == 2)
            {
                Console.WriteLine("max_policy_lag  iterations  wall s  generation s  sandbox s  scoring s  update s  learner idle s");
                foreach (var l in lags)
                    Console.WriteLine($"{l.MaxPolicyLag,14}  {l.Iterations,10}  {l.WallSeconds,6:F1}  {l.GenerationSeconds,12:F1}  {l.SandboxSeconds,9:F1}  {l.ScoringSeconds,9:F1}  {l.UpdateSeconds,8:F1}  {l.LearnerIdleSeconds,14:F1}");
                Console.WriteLine($"wall time lag 1 / lag 0: {lags[1].WallSeconds / lags[0].WallSeconds:F2}");
            }
            return 0;
        });
        return command;
    }
}
