using System.Globalization;

namespace Rlef.Sandbox;

/// <summary>
/// Per-worker cgroups (v1 memory and pids controllers, as on this project's machines) that cap what all of a
/// test's processes use together: RLIMIT_AS bounds one process, a forked family could otherwise multiply it.
/// Created below this process's own cgroup in each hierarchy (so the host's accounting still covers the
/// sandbox), only where that is writable (root); otherwise the sandbox relies on rlimits alone.
/// A worker's process is moved in by its launch wrapper before bubblewrap starts.
/// </summary>
internal sealed class WorkerCgroup : IDisposable
{
    private const string Root = "/sys/fs/cgroup";
    private static int _counter;
    private static readonly Lazy<(string Memory, string Pids)?> Parents = new(CreateParents);

    private readonly string _memory;
    private readonly string _pids;
    private long _oomKillsSeen;

    private WorkerCgroup(string memory, string pids)
    {
        _memory = memory;
        _pids = pids;
    }

    /// <summary>Whether worker cgroups can be made here (cgroups v1 with memory and pids controllers, writable).</summary>
    public static bool Available => Parents.Value != null;

    /// <summary>The cgroup.procs files the launch wrapper writes its pid into.</summary>
    public IEnumerable<string> ProcsFiles => [Path.Combine(_memory, "cgroup.procs"), Path.Combine(_pids, "cgroup.procs")];

    /// <summary>The memory cgroup's OOM report; the worker reads its oom_kill counter after each test (the launch
    /// wrapper opens it on fd <see cref="SandboxLaunch.OomControlFd"/>).</summary>
    public string OomControlFile => Path.Combine(_memory, "memory.oom_control");

    /// <summary>A fresh cgroup pair for one worker, or null where cgroups v1 are not available to us.</summary>
    public static WorkerCgroup? TryCreate()
    {
        if (Parents.Value is not { } parents)
            return null;
        string name;
        do
            name = "w" + Interlocked.Increment(ref _counter).ToString(CultureInfo.InvariantCulture);
        // Never reuse a cgroup: one left by an earlier process that had our pid (the parent's name holds the pid)
        // may still hold its OOM kill count, which would be charged to our first test, or its processes.
        while (Directory.Exists(Path.Combine(parents.Memory, name)) || Directory.Exists(Path.Combine(parents.Pids, name)));
        try
        {
            var cg = new WorkerCgroup(Directory.CreateDirectory(Path.Combine(parents.Memory, name)).FullName,
                Directory.CreateDirectory(Path.Combine(parents.Pids, name)).FullName);
            // Never swap a test's memory out: hitting the limit must end in the OOM killer, not in slowness.
            TryWrite(Path.Combine(cg._memory, "memory.swappiness"), "0");
            return cg;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Caps the whole worker (test processes, the worker itself and its tmpfs pages).</summary>
    public void SetLimits(long memoryBytes, int processes)
    {
        File.WriteAllText(Path.Combine(_memory, "memory.limit_in_bytes"), memoryBytes.ToString(CultureInfo.InvariantCulture));
        File.WriteAllText(Path.Combine(_pids, "pids.max"), processes.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// OOM kills in this cgroup since the previous call, given the counter's <paramref name="total"/> as the worker
    /// read it right after a test's processes were all gone and before the next test started: the host cannot read
    /// it at that moment itself, as the worker already runs the next test of a request when the host gets a reply.
    /// </summary>
    public long NewOomKills(long total)
    {
        long fresh = total - _oomKillsSeen;
        _oomKillsSeen = total;
        return fresh;
    }

    /// <summary>
    /// Removes the cgroups once empty. The sandbox's last processes die a little after the launch process has been
    /// reaped (the pid namespace is torn down asynchronously), so a busy cgroup is retried in the background.
    /// </summary>
    public void Dispose()
    {
        if (!TryRemove(_memory) | !TryRemove(_pids))
            _ = Task.Run(async () =>
            {
                for (int attempt = 0; attempt < 100; attempt++)
                {
                    await Task.Delay(100);
                    if (TryRemove(_memory) & TryRemove(_pids))
                        return;
                }
            });
    }

    /// <summary>rmdir (cgroup directories hold only virtual files); true once the directory is gone.</summary>
    private static bool TryRemove(string dir)
    {
        try
        {
            Directory.Delete(dir);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return !Directory.Exists(dir);
        }
    }

    /// <summary>Parents left behind by runs that died (their pid is gone) are removed with their empty children.</summary>
    private static void RemoveStaleParents(string hierarchyDir)
    {
        foreach (string dir in Directory.EnumerateDirectories(hierarchyDir, "rlef-sandbox-*"))
        {
            if (!int.TryParse(Path.GetFileName(dir)["rlef-sandbox-".Length..], CultureInfo.InvariantCulture, out int pid)
                || Directory.Exists($"/proc/{pid}"))
                continue;
            foreach (string child in Directory.EnumerateDirectories(dir))
                TryRemove(child);
            TryRemove(dir);
        }
    }

    private static (string, string)? CreateParents()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Path.Combine(Root, "memory", "memory.limit_in_bytes")) || !Directory.Exists(Path.Combine(Root, "pids")))
            return null;
        try
        {
            string leaf = "rlef-sandbox-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            string memoryHome = Root + "/memory" + OwnCgroup("memory"), pidsHome = Root + "/pids" + OwnCgroup("pids");
            RemoveStaleParents(memoryHome);
            RemoveStaleParents(pidsHome);
            string memory = Directory.CreateDirectory(Path.Combine(memoryHome, leaf)).FullName;
            string pids = Directory.CreateDirectory(Path.Combine(pidsHome, leaf)).FullName;
            if (!File.Exists(Path.Combine(memory, "memory.limit_in_bytes")) || !File.Exists(Path.Combine(pids, "pids.max")))
                return null;
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                TryRemove(memory);
                TryRemove(pids);
            };
            return (memory, pids);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>This process's path in a v1 hierarchy, from /proc/self/cgroup ("4:memory:/a/b" → "/a/b").</summary>
    private static string OwnCgroup(string controller)
    {
        foreach (string line in File.ReadLines("/proc/self/cgroup"))
        {
            string[] parts = line.Split(':', 3);
            if (parts.Length == 3 && parts[1].Split(',').Contains(controller))
                return parts[2] == "/" ? "" : parts[2];
        }
        throw new IOException($"no {controller} cgroup in /proc/self/cgroup");
    }

    private static void TryWrite(string file, string value)
    {
        try { File.WriteAllText(file, value); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
