using System.CommandLine;
using Rlef.Sandbox;
using Rlef.Serving.Sandbox;

namespace Rlef.Cli.Commands;

/// <summary>`rlef serve sandbox`: the warm sandbox pool as an HTTP service (docs/sandbox-service.md).</summary>
public static class ServeSandboxCommand
{
    /// <summary>Where the token is read from when --token is not given (keeps it out of the process list).</summary>
    public const string TokenVariable = "RLEF_SANDBOX_TOKEN";

    public static Command Create()
    {
        var serve = new ServeOptions("127.0.0.1:8090",
            tokenDescription: $"Bearer token every request must carry (Authorization: Bearer TOKEN), at least 16 characters; default: ${TokenVariable} if set.",
            listenDescription: "HOST:PORT to listen on; loopback by default. Any other address needs --token (or --insecure). Port 0 picks a free one (announced on stdout).",
            insecureDescription: "Serve a non-loopback address without a token (anyone who can connect runs code).");
        var workers = new Option<int>("--workers") { Description = "Warm sandbox workers (programs run at once).", DefaultValueFactory = _ => System.Environment.ProcessorCount };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a worker; beyond them requests get 429 with Retry-After.", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<int>("--max-body-mb") { Description = "Largest request body in MB (larger ones get 413).", DefaultValueFactory = _ => 16 };
        var maxTests = new Option<int>("--max-tests") { Description = "Most tests in one /run_tests request.", DefaultValueFactory = _ => 1000 };
        var maxTime = new Option<double>("--max-time-limit") { Description = "Largest time limit per test a request may ask for, in seconds (larger ones are lowered).", DefaultValueFactory = _ => 60 };
        var maxMemory = new Option<int>("--max-memory-mb") { Description = "Largest memory limit per test a request may ask for, in MB (larger ones are lowered).", DefaultValueFactory = _ => 4096 };
        var noIsolation = new Option<bool>("--no-isolation") { Description = "DEBUGGING ONLY: run programs without bubblewrap (they can touch this machine)." };

        var command = new Command("sandbox", "Serve the sandbox over HTTP: POST /run_code (SandboxFusion's API), POST /run_tests (one program, " +
            "many tests, the project's verdicts), GET /v1/ping, /health, /metrics. Stops on SIGTERM or Ctrl+C after in-flight requests finish.")
        {
            serve.Listen, serve.Token, serve.Insecure, workers, queue, maxBody, maxTests, maxTime, maxMemory, noIsolation,
        };
        command.SetAction(async (parse, ct) =>
        {
            int w = parse.GetValue(workers), q = parse.GetValue(queue), body = parse.GetValue(maxBody), tests = parse.GetValue(maxTests), mem = parse.GetValue(maxMemory);
            double time = parse.GetValue(maxTime);
            if (w < 1 || q < 0 || body < 1 || tests < 1 || mem < 1 || !(time > 0))
                throw new UserError("--workers, --max-body-mb, --max-tests, --max-time-limit and --max-memory-mb must be positive, --queue at least 0");
            var server = serve.ToServerOptions(parse, serviceName: null, maxBodyBytes: (long)body << 20,
                tokenFallback: System.Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } t ? t : null);
            var defaults = new SandboxServerOptions();
            var sandbox = defaults with
            {
                Pool = new SandboxOptions { Workers = w, Isolation = !parse.GetValue(noIsolation) },
                QueueCapacity = q,
                MaxTests = tests,
                MaxLimits = defaults.MaxLimits with { CpuTimeSeconds = time, WallTimeSeconds = time, MemoryMb = mem },
                DefaultLimits = defaults.DefaultLimits with
                {
                    CpuTimeSeconds = Math.Min(time, defaults.DefaultLimits.CpuTimeSeconds),
                    WallTimeSeconds = Math.Min(time, defaults.DefaultLimits.WallTimeSeconds),
                    MemoryMb = Math.Min(mem, defaults.DefaultLimits.MemoryMb),
                },
            };
            // A refused listen policy (ArgumentException), no bubblewrap (InvalidOperationException) and an address in
            // use (IOException) are user errors: one line, exit 2.
            await using var service = SandboxService.Create(server, sandbox);
            await service.RunAsync(Console.Out, ct);
            return 0;
        });
        return command;
    }
}
