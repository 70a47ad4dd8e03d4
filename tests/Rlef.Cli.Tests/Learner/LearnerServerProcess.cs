using System.Diagnostics;
using Rlef.Cli.Commands;

namespace Rlef.Cli.Tests.Learner;

/// <summary>
/// One `rlef serve learner` process on 127.0.0.1 and a free port (port 0, announced on stdout), its sampler weights
/// under <see cref="StateDirectory"/>; stopped by its process id when disposed. Every wait is bounded.
/// </summary>
public sealed class LearnerServerProcess : IDisposable
{
    readonly Process _process;

    LearnerServerProcess(Process process, Uri baseUrl, string state)
    {
        _process = process;
        BaseUrl = baseUrl;
        StateDirectory = state;
    }

    public Uri BaseUrl { get; }
    public string StateDirectory { get; }
    public bool HasExited => _process.HasExited;

    public static LearnerServerProcess Start(string modelDirectory, string name, string state, params string[] extra)
    {
        string rlef = typeof(ServeLearnerCommand).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { rlef, "serve", "learner", "--model", modelDirectory, "--listen", "127.0.0.1:0", "--name", name, "--state", state }.Concat(extra))
            start.ArgumentList.Add(arg);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start rlef serve learner");
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(90))
        {
            Task<string?> line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(90) - deadline.Elapsed) || line.Result is null) break;
            const string marker = "listening on ";
            int at = line.Result.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
                return new LearnerServerProcess(process, new Uri(line.Result[(at + marker.Length)..].Trim() + "/"), state);
            }
        }
        try { process.Kill(); } catch (InvalidOperationException) { }
        lock (stderr) throw new InvalidOperationException($"rlef serve learner did not announce its address within 90 s: {stderr}");
    }

    /// <summary>kill -9 (a vanished service).</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
