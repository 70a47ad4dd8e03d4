using System.Diagnostics;
using Rlef.Cli.Commands;

namespace Rlef.Cli.Tests.Actors;

/// <summary>
/// One `rlef serve model` process on 127.0.0.1 and a free port (port 0; the server announces the one it got),
/// stopped by its process id when disposed. Every wait is bounded.
/// </summary>
public sealed class ModelServerProcess : IDisposable
{
    readonly Process _process;

    ModelServerProcess(Process process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    public static ModelServerProcess Start(string modelDirectory, string name, string? tokenizer = "byte", int maxBatch = 32)
    {
        string rlef = typeof(ServeModelCommand).Assembly.Location; // rlef.dll beside the test assembly
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { rlef, "serve", "model", "--model", modelDirectory, "--listen", "127.0.0.1:0", "--name", name,
                     "--max-batch", maxBatch.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        if (tokenizer is not null) { start.ArgumentList.Add("--tokenizer"); start.ArgumentList.Add(tokenizer); }
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start rlef serve model");
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
                // Keep draining stdout so the server never blocks on a full pipe.
                _ = Task.Run(async () => { while (await process.StandardOutput.ReadLineAsync() is not null) { } });
                return new ModelServerProcess(process, new Uri(line.Result[(at + marker.Length)..].Trim() + "/"));
            }
        }
        try { process.Kill(); } catch (InvalidOperationException) { }
        lock (stderr) throw new InvalidOperationException($"rlef serve model did not announce its address within 90 s: {stderr}");
    }

    /// <summary>kill -9 of the server (a fault test's crash).</summary>
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
