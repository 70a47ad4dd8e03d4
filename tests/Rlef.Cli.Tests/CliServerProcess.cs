using System.Diagnostics;
using Rlef.Cli.Commands;

namespace Rlef.Cli.Tests;

/// <summary>
/// One `rlef serve VERB` process on 127.0.0.1 and a free port (port 0; the server announces the one it got on
/// stdout), stopped by its process id when disposed. Every wait is bounded.
/// </summary>
public abstract class CliServerProcess : IDisposable
{
    static readonly TimeSpan AnnounceTimeout = TimeSpan.FromSeconds(90);

    readonly Process _process;

    protected CliServerProcess((Process Process, Uri BaseUrl) started)
    {
        _process = started.Process;
        BaseUrl = started.BaseUrl;
    }

    public Uri BaseUrl { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Starts `rlef serve VERB --listen 127.0.0.1:0 ARGS` and waits for the address it announces.</summary>
    protected static (Process Process, Uri BaseUrl) Launch(string verb, IEnumerable<string> arguments)
    {
        string rlef = typeof(ServeModelCommand).Assembly.Location; // rlef.dll beside the test assembly
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { rlef, "serve", verb, "--listen", "127.0.0.1:0" }.Concat(arguments))
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start rlef serve {verb}");
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < AnnounceTimeout)
        {
            Task<string?> line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(AnnounceTimeout - deadline.Elapsed) || line.Result is null) break;
            const string marker = "listening on ";
            int at = line.Result.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Keep draining stdout so the server never blocks on a full pipe.
                _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
                return (process, new Uri(line.Result[(at + marker.Length)..].Trim() + "/"));
            }
        }
        try { process.Kill(); } catch (InvalidOperationException) { }
        lock (stderr) throw new InvalidOperationException($"rlef serve {verb} did not announce its address within 90 s: {stderr}");
    }

    /// <summary>kill -9 of the server (a fault test's crash, a vanished service).</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        GC.SuppressFinalize(this);
    }
}
