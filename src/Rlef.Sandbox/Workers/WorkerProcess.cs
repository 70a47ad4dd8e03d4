using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Rlef.Sandbox;

/// <summary>The worker died, broke the protocol or did not answer: an infrastructure failure (retried).</summary>
internal sealed class WorkerFailedException(string message) : Exception(message);

/// <summary>One reply of a worker and the <see cref="Stopwatch"/> timestamp at which the host had read it.</summary>
internal readonly record struct WorkerReply(JsonElement Body, long ReadAt);

/// <summary>
/// One started runner (Runner/runner.py) and its pipes. Messages both ways: a 4-byte big-endian length, then
/// UTF-8 JSON. Not thread-safe: one job at a time (the pool guarantees it). Replies are read by a thread of the
/// worker's own, blocked in read() until one comes: on a busy machine a reply is taken as soon as the kernel
/// wakes that thread, instead of waiting for a thread-pool thread as well.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private const int MaxReplyBytes = 256 << 20;
    private static readonly Lazy<string> RunnerSource = new(LoadRunner);

    private readonly Process _process;
    private readonly Stream _toWorker;
    private readonly Stream _fromWorker;
    private readonly string? _hostWorkDir;
    private readonly StringBuilder _stderr = new();
    private readonly Channel<WorkerReply> _replies = Channel.CreateUnbounded<WorkerReply>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private bool _disposed;

    public int JobsDone { get; set; }

    /// <summary>The worker's own memory and pids cgroups, where available.</summary>
    public WorkerCgroup? Cgroup { get; }

    /// <summary>Disposed, or the process has exited.</summary>
    public bool IsDead => _disposed || _process.HasExited;

    private WorkerProcess(Process process, string? hostWorkDir, WorkerCgroup? cgroup)
    {
        _process = process;
        Cgroup = cgroup;
        _hostWorkDir = hostWorkDir;
        _toWorker = process.StandardInput.BaseStream;
        _fromWorker = process.StandardOutput.BaseStream;
        process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
                if (e.Data != null && _stderr.Length < 8192)
                    _stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();
        new Thread(ReadReplies) { IsBackground = true, Name = "rlef-sandbox-replies" }.Start();
    }

    /// <summary>The reader thread: queues each reply until the worker's output ends or breaks the protocol.</summary>
    private void ReadReplies()
    {
        try
        {
            var header = new byte[4];
            while (true)
            {
                _fromWorker.ReadExactly(header);
                int length = BinaryPrimitives.ReadInt32BigEndian(header);
                if (length < 0 || length > MaxReplyBytes)
                    throw new InvalidDataException($"reply length {length} out of range");
                var body = new byte[length];
                _fromWorker.ReadExactly(body);
                long readAt = Stopwatch.GetTimestamp();
                using var doc = JsonDocument.Parse(body);
                _replies.Writer.TryWrite(new WorkerReply(doc.RootElement.Clone(), readAt));
            }
        }
        catch (Exception e)
        {
            _replies.Writer.TryComplete(e);
        }
    }

    public static async Task<WorkerProcess> StartAsync(SandboxLaunch launch, CancellationToken cancellationToken)
    {
        string? hostWorkDir = launch.Isolated ? null : Directory.CreateTempSubdirectory("rlef-sandbox-").FullName;
        WorkerCgroup? cgroup = WorkerCgroup.TryCreate();
        ProcessStartInfo psi = launch.StartInfo(RunnerSource.Value, hostWorkDir, cgroup);
        Process process;
        try
        {
            // Until the first job sets the real limits, the cgroups hold the default job's.
            cgroup?.SetLimits(WorkerMemoryBytes(launch, new ExecutionLimits()), WorkerProcesses(new ExecutionLimits()));
            process = Process.Start(psi) ?? throw new WorkerFailedException($"could not start {psi.FileName}");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException)
        {
            cgroup?.Dispose();
            throw new WorkerFailedException($"could not start {psi.FileName}: {e.Message}");
        }
        var worker = new WorkerProcess(process, hostWorkDir, cgroup);
        try
        {
            // The first answer proves the sandbox came up (bubblewrap reports its own failures on stderr).
            await worker.CallAsync(new JsonObject { ["op"] = "ping" }, TimeSpan.FromSeconds(30), cancellationToken);
            return worker;
        }
        catch
        {
            worker.Dispose();
            throw;
        }
    }

    /// <summary>The memory cap of a whole worker: the test's limit plus the worker itself and its tmpfs.</summary>
    public static long WorkerMemoryBytes(SandboxLaunch launch, ExecutionLimits limits) =>
        ((long)limits.MemoryMb << 20) + launch.WorkDirBytes + (128L << 20);

    /// <summary>The task cap of a whole worker: the test's processes plus the launch chain and the worker.</summary>
    public static int WorkerProcesses(ExecutionLimits limits) => limits.MaxProcesses + 8;

    /// <summary>Test seam: the process dies behind the pool's back, as a crashed sandbox would.</summary>
    internal void KillProcessOnly() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends one message and waits for its reply; kills the worker on timeout or protocol failure.</summary>
    public async Task<JsonElement> CallAsync(JsonObject message, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await SendAsync(message, cancellationToken);
        return (await ReceiveAsync(timeout, cancellationToken)).Body;
    }

    /// <summary>Sends one message (length and body in one write). The worker reads a whole message before it
    /// answers, so this returns once the message is in the pipe or read.</summary>
    public async Task SendAsync(JsonObject message, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var buffer = new ArrayBufferWriter<byte>(1024);
        buffer.GetSpan(4);
        buffer.Advance(4);
        using (var writer = new Utf8JsonWriter(buffer))
            message.WriteTo(writer);
        byte[] frame = buffer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(frame, frame.Length - 4);
        await Guard(async token =>
        {
            await _toWorker.WriteAsync(frame, token);
            await _toWorker.FlushAsync(token);
            return true;
        }, TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <summary>Waits for the worker's next reply (the one to the oldest message not yet answered).</summary>
    public Task<WorkerReply> ReceiveAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        Guard(async token =>
        {
            try
            {
                return await _replies.Reader.ReadAsync(token);
            }
            catch (ChannelClosedException e)
            {
                throw e.InnerException as IOException ?? new IOException(e.InnerException?.Message ?? "the worker's output ended", e);
            }
        }, timeout, cancellationToken);

    /// <summary>Runs one pipe operation under a timeout; any failure kills the worker and becomes a
    /// <see cref="WorkerFailedException"/> (retried by the pool), except the caller's own cancellation.</summary>
    private async Task<T> Guard<T>(Func<CancellationToken, Task<T>> operation, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        try
        {
            return await operation(timer.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Fail($"no reply within {timeout.TotalSeconds:0.#} s");
        }
        catch (OperationCanceledException)
        {
            Dispose();  // the worker is somewhere inside a test: it cannot be reused
            throw;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or JsonException or ObjectDisposedException)
        {
            throw Fail(e.Message);
        }
    }

    private WorkerFailedException Fail(string why)
    {
        Dispose();
        string stderr;
        lock (_stderr)
            stderr = _stderr.ToString().Trim();
        return new WorkerFailedException($"sandbox worker failed: {why}" + (stderr.Length > 0 ? $" (stderr: {stderr})" : ""));
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        try
        {
            // Our own child and its descendants (setpriv → bwrap → worker); bwrap's --die-with-parent and the pid
            // namespace take down everything inside.
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        Cgroup?.Dispose();
        if (_hostWorkDir != null)
        {
            try { Directory.Delete(_hostWorkDir, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static string LoadRunner()
    {
        using Stream s = typeof(WorkerProcess).Assembly.GetManifestResourceStream("Rlef.Sandbox.runner.py")
            ?? throw new InvalidOperationException("embedded resource Rlef.Sandbox.runner.py is missing");
        using var reader = new StreamReader(s, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
