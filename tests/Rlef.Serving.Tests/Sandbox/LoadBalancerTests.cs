using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Rlef.Sandbox;
using Xunit.Abstractions;

namespace Rlef.Serving.Tests.Sandbox;

/// <summary>
/// Scale-out: two `rlef serve sandbox` processes behind nginx on loopback, a load of requests through the balancer,
/// and one server killed (SIGKILL, with its sandboxes) and restarted in the middle. Every request must get exactly
/// the verdicts its program deserves: the clients retry what the kill broke, nothing is lost or misjudged.
/// RLEF_LB_REQUESTS sets the number of requests (default 2000; about a minute on a shared 2-core machine).
/// </summary>
public sealed class LoadBalancerTests(ITestOutputHelper output)
{
    private const string Nginx = "/usr/sbin/nginx";

    /// <summary>Programs whose verdicts are known, one per request in turn; each request has two tests.</summary>
    private static (ExecutionRequest Request, Verdict[] Verdicts) Job(int k)
    {
        string n = k.ToString(CultureInfo.InvariantCulture), twice = (2 * k).ToString(CultureInfo.InvariantCulture);
        return (k % 4) switch
        {
            0 => (Stdio("a, b = map(int, input().split())\nprint(a + b)", $"{n} {n}", twice), [Verdict.Passed, Verdict.WrongAnswer]),
            1 => (Stdio("a, b = map(int, input().split())\nprint(a + b + 1)", $"{n} {n}", twice), [Verdict.WrongAnswer, Verdict.Passed]),
            2 => (Stdio("a, b = map(int, input().split())\nprint(a // (b - b))", $"{n} {n}", twice), [Verdict.RuntimeError, Verdict.RuntimeError]),
            _ => (new ExecutionRequest
            {
                Code = "def square(x):\n    return x * x\n",
                Tests = [TestCase.Call("square", $"[{n}]", (k * k).ToString(CultureInfo.InvariantCulture)), TestCase.Call("square", $"[{n}]", "-1")],
            }, [Verdict.Passed, Verdict.WrongAnswer]),
        };

        static ExecutionRequest Stdio(string code, string input, string expected) => new()
        {
            Code = code,
            // The second test expects one more than the first, so exactly one of the two passes for the sum programs.
            Tests = [TestCase.Stdio(input, expected), TestCase.Stdio(input, (long.Parse(expected, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture))],
        };
    }

    [Fact]
    public async Task Two_servers_behind_nginx_one_killed_and_restarted_every_request_gets_its_verdicts()
    {
        Assert.True(File.Exists(Nginx), $"{Nginx} is missing: apt-get install nginx (the load-balancer test runs it)");
        int requests = int.TryParse(System.Environment.GetEnvironmentVariable("RLEF_LB_REQUESTS"), out int r) && r > 0 ? r : 2000;
        string dir = Directory.CreateTempSubdirectory("rlef-lb-").FullName;
        int portA = FreePort(), portB = FreePort(), portLb = FreePort();
        SandboxProcess? a = null, b = null;
        Process? nginx = null;
        try
        {
            a = SandboxProcess.Start(portA, output);
            b = SandboxProcess.Start(portB, output);
            await Task.WhenAll(a.WaitReadyAsync(), b.WaitReadyAsync());
            nginx = StartNginx(dir, portLb, portA, portB);
            await WaitForAsync($"http://127.0.0.1:{portLb}/health", TimeSpan.FromSeconds(30));

            await using var executor = new RemoteSandboxExecutor([new Uri($"http://127.0.0.1:{portLb}/")], new RemoteSandboxOptions
            {
                MaxAttempts = 30, InitialBackoff = TimeSpan.FromMilliseconds(50), MaxBackoff = TimeSpan.FromSeconds(1),
            });
            var wrong = new ConcurrentBag<string>();
            int done = 0;
            using var inFlight = new SemaphoreSlim(16);
            var clock = Stopwatch.StartNew();
            var killer = Task.Run(async () =>
            {
                // Kill A a third of the way through and start it again on the same port.
                for (int i = 0; i < 6000 && Volatile.Read(ref done) < requests / 3; i++)
                    await Task.Delay(10);
                output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: killing server A after {Volatile.Read(ref done)} requests");
                a.Kill();
                await Task.Delay(1000);
                a = SandboxProcess.Start(portA, output);
                await a.WaitReadyAsync();
                output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: server A back after {Volatile.Read(ref done)} requests");
            });
            await Task.WhenAll(Enumerable.Range(0, requests).Select(async k =>
            {
                await inFlight.WaitAsync();
                try
                {
                    var (request, verdicts) = Job(k);
                    var got = (await executor.RunAsync(request)).Results.Select(x => x.Verdict).ToArray();
                    if (!got.SequenceEqual(verdicts))
                        wrong.Add($"request {k}: {string.Join(",", got)} instead of {string.Join(",", verdicts)}");
                    Interlocked.Increment(ref done);
                }
                finally
                {
                    inFlight.Release();
                }
            }));
            await killer;
            output.WriteLine($"{requests} requests ({2 * requests} tests) in {clock.Elapsed.TotalSeconds:0.0} s through nginx; {executor.Retries} retries");

            Assert.Empty(wrong);
            Assert.Equal(requests, done);
            // Both servers worked, and the restarted one took its share after coming back.
            Assert.True(await a.VerdictsGivenAsync() > 0, "the restarted server A got no work");
            Assert.True(await b.VerdictsGivenAsync() > 0, "server B got no work");
        }
        finally
        {
            if (nginx is { HasExited: false })
                nginx.Kill();
            nginx?.WaitForExit(10_000);
            a?.Kill();
            b?.Kill();
            if (File.Exists(Path.Combine(dir, "error.log")))
                foreach (string line in File.ReadLines(Path.Combine(dir, "error.log")).TakeLast(10))
                    output.WriteLine("nginx: " + line);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Process StartNginx(string dir, int port, int portA, int portB)
    {
        foreach (string sub in new[] { "body", "proxy", "fastcgi", "uwsgi", "scgi" })
            Directory.CreateDirectory(Path.Combine(dir, sub));
        // No retry of a POST on another server inside nginx (proxy_next_upstream's default for non-idempotent
        // requests): the clients' own retries are what this test checks.
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                client_max_body_size 16m;
                upstream sandboxes {
                    server 127.0.0.1:{{portA}} max_fails=1 fail_timeout=1s;
                    server 127.0.0.1:{{portB}} max_fails=1 fail_timeout=1s;
                    keepalive 32;
                }
                server {
                    listen 127.0.0.1:{{port}};
                    location / {
                        proxy_pass http://sandboxes;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_next_upstream error timeout;
                        proxy_read_timeout 120s;
                    }
                }
            }
            """);
        var psi = new ProcessStartInfo(Nginx) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in new[] { "-p", dir, "-c", Path.Combine(dir, "nginx.conf"), "-e", Path.Combine(dir, "error.log"), "-g", "daemon off;" })
            psi.ArgumentList.Add(arg);
        var p = Process.Start(psi)!;
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        return p;
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task WaitForAsync(string url, TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if ((await http.GetAsync(url)).IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            if (clock.Elapsed > limit)
                throw new TimeoutException($"{url} not ready within {limit.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    /// <summary>One `rlef serve sandbox` process (the CLI built beside the tests), stopped by its own process id.</summary>
    private sealed class SandboxProcess
    {
        private readonly Process _process;
        private readonly int _port;

        private SandboxProcess(Process process, int port)
        {
            _process = process;
            _port = port;
        }

        public static SandboxProcess Start(int port, ITestOutputHelper output)
        {
            var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "rlef"))
            {
                RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
            };
            foreach (string arg in new[] { "serve", "sandbox", "--listen", $"127.0.0.1:{port}", "--workers", "1", "--queue", "512" })
                psi.ArgumentList.Add(arg);
            var p = Process.Start(psi)!;
            p.ErrorDataReceived += (_, e) => { if (e.Data != null) output.WriteLine($"[{port}] {e.Data}"); };
            p.OutputDataReceived += (_, e) => { if (e.Data != null) output.WriteLine($"[{port}] {e.Data}"); };
            p.BeginErrorReadLine();
            p.BeginOutputReadLine();
            return new SandboxProcess(p, port);
        }

        public Task WaitReadyAsync() => WaitForAsync($"http://127.0.0.1:{_port}/health", TimeSpan.FromSeconds(60));

        public async Task<double> VerdictsGivenAsync()
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            string metrics = await http.GetStringAsync($"http://127.0.0.1:{_port}/metrics");
            return metrics.Split('\n').Where(l => l.StartsWith("rlef_sandbox_verdicts_total{", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        public void Kill()
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }
}
