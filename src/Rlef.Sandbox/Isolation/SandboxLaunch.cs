using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Rlef.Sandbox;

/// <summary>
/// How a worker process is started: the bubblewrap command line (isolation) or a bare interpreter in a private
/// temporary directory (the loud debugging mode). Both run the same embedded runner, passed with `-c`.
/// </summary>
internal sealed partial class SandboxLaunch
{
    /// <summary>The uid/gid the sandbox runs as on the host when this process is root (nobody).</summary>
    private const int UnprivilegedId = 65534;

    private readonly string _python;
    private readonly string? _bwrap;
    private readonly bool _dropToNobody;
    private readonly int _workDirBytes;

    public bool Isolated => _bwrap != null;

    /// <summary>Size cap of the work dir's tmpfs (its pages count towards the worker's memory cgroup).</summary>
    public long WorkDirBytes => _workDirBytes;

    /// <summary>Whether RLIMIT_NPROC can be enforced (the kernel ignores it for host root).</summary>
    public bool ProcessLimitEnforced { get; }

    private SandboxLaunch(string python, string? bwrap, bool dropToNobody, int workDirBytes)
    {
        _python = python;
        _bwrap = bwrap;
        _dropToNobody = dropToNobody;
        _workDirBytes = workDirBytes;
        ProcessLimitEnforced = bwrap != null ? dropToNobody || geteuid() != 0 : geteuid() != 0;
    }

    public static SandboxLaunch Create(SandboxOptions options) => Create(options, Environment.GetEnvironmentVariable("PATH"));

    /// <summary>As <see cref="Create(SandboxOptions)"/>, looking programs up in <paramref name="searchPath"/>.</summary>
    internal static SandboxLaunch Create(SandboxOptions options, string? searchPath)
    {
        string python = Path.GetFullPath(options.PythonPath ?? PythonLocator.Find());
        if (!File.Exists(python))
            throw new InvalidOperationException($"SandboxOptions.PythonPath: '{python}' does not exist");
        if (!options.Isolation)
        {
            (options.WarningWriter ?? Console.Error).WriteLine(
                "WARNING: sandbox isolation is OFF (--no-isolation): untrusted code runs on this host with only " +
                "resource limits; it can read and write your files and reach the network. Use for debugging only.");
            return new SandboxLaunch(python, null, false, options.WorkDirMb << 20);
        }
        string bwrap = FindOnPath("bwrap", searchPath) ?? throw new InvalidOperationException(
            "bubblewrap (bwrap) is not installed; the sandbox needs it to isolate untrusted code. Install it with " +
            "`apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap` (Fedora). For debugging only, " +
            "--no-isolation runs code without isolation.");
        // As root, start bubblewrap as nobody: host-root-owned files then do not appear as owned by the sandbox
        // user, and RLIMIT_NPROC applies (the kernel exempts uid 0). Needs an interpreter nobody can run.
        bool drop = geteuid() == 0 && FindOnPath("setpriv", searchPath) != null && ReadableByAll(python);
        return new SandboxLaunch(python, bwrap, drop, options.WorkDirMb << 20);
    }

    /// <summary>The descriptor on which a worker with cgroups finds its memory cgroup's oom_control file, opened
    /// read-only by the launch wrapper (so no cgroup file system is mounted inside the sandbox).</summary>
    public const int OomControlFd = 3;

    /// <summary>The process start for one worker. <paramref name="hostWorkDir"/> is used only without isolation.</summary>
    public ProcessStartInfo StartInfo(string runnerSource, string? hostWorkDir, WorkerCgroup? cgroup)
    {
        ProcessStartInfo psi = StartInfo(runnerSource, hostWorkDir, withOomFd: cgroup != null);
        if (cgroup == null)
            return psi;
        // A tiny wrapper moves itself into the worker's cgroups and then execs the real command, so that every
        // process of the sandbox is born inside them (moving bubblewrap after its start would race its fork).
        var args = psi.ArgumentList.ToList();
        psi.ArgumentList.Clear();
        psi.ArgumentList.Add("-c", "for f in \"$1\" \"$2\"; do echo $$ > \"$f\" || exit 111; done; exec 3< \"$3\" || exit 111; shift 3; exec \"$@\"", "rlef-sandbox");
        foreach (string file in cgroup.ProcsFiles)
            psi.ArgumentList.Add(file);
        psi.ArgumentList.Add(cgroup.OomControlFile);
        psi.ArgumentList.Add(psi.FileName);
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        psi.FileName = "/bin/sh";
        return psi;
    }

    private ProcessStartInfo StartInfo(string runnerSource, string? hostWorkDir, bool withOomFd)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/bin:/bin";
        var a = psi.ArgumentList;
        if (_bwrap == null)
        {
            psi.FileName = _python;
            psi.WorkingDirectory = hostWorkDir!;
            AddPython(a, runnerSource, hostWorkDir!, withOomFd);
            return psi;
        }
        psi.WorkingDirectory = "/";
        if (_dropToNobody)
        {
            psi.FileName = "setpriv";
            foreach (string s in new[] { $"--reuid={UnprivilegedId}", $"--regid={UnprivilegedId}", "--clear-groups", "--", _bwrap })
                a.Add(s);
        }
        else
        {
            psi.FileName = _bwrap;
        }
        // Namespaces: user, pid, net, ipc, uts, cgroup. The worker is pid 1 of its pid namespace (--as-pid-1): it
        // reaps every orphan, and the kernel drops signals sent to it from inside (a test cannot kill it).
        // Inside, the sandbox user is nobody (65534) whether or not the host side dropped root.
        foreach (string s in new[] { "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--as-pid-1", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin" })
            a.Add(s);
        // The file system: only /usr (and the interpreter's own prefix) read-only; no /etc, /home, /root, project.
        Bind(a, "/usr");
        foreach (string link in new[] { "/bin", "/lib", "/lib64", "/sbin" })
        {
            var info = new FileInfo(link);
            if (info.LinkTarget is { } target)
                a.Add("--symlink", target, link);
            else if (Directory.Exists(link))
                Bind(a, link);
        }
        string prefix = Path.GetDirectoryName(Path.GetDirectoryName(_python)!)!;
        if (!prefix.StartsWith("/usr", StringComparison.Ordinal) && prefix != "/")
            Bind(a, prefix);
        a.Add("--dev", "/dev");
        a.Add("--proc", "/proc");
        a.Add("--size", _workDirBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
        a.Add("--tmpfs", "/tmp");
        a.Add("--remount-ro", "/dev");
        a.Add("--remount-ro", "/");
        a.Add("--chdir", "/tmp");
        a.Add(_python);
        AddPython(a, runnerSource, "/tmp", withOomFd);
        return psi;
    }

    private static void AddPython(System.Collections.ObjectModel.Collection<string> a, string runnerSource, string workDir, bool withOomFd)
    {
        // -S: no site module, -I: isolated (no env vars, no user site, no cwd on sys.path), -B: no .pyc writes.
        a.Add("-S", "-I", "-B", "-c", runnerSource, workDir);
        if (withOomFd)
            a.Add(OomControlFd.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void Bind(System.Collections.ObjectModel.Collection<string> a, string path) => a.Add("--ro-bind", path, path);

    private static string? FindOnPath(string name, string? searchPath)
    {
        foreach (string dir in (searchPath ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    }

    private static bool ReadableByAll(string file)
    {
        // Every directory on the way must be searchable by others, and the file executable by others.
        if (!OperatingSystem.IsLinux())
            return false;
        for (string? dir = Path.GetDirectoryName(file); dir != null; dir = Path.GetDirectoryName(dir))
            if (!File.GetUnixFileMode(dir).HasFlag(UnixFileMode.OtherExecute))
                return false;
        return File.GetUnixFileMode(file).HasFlag(UnixFileMode.OtherExecute);
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();
}

internal static class CollectionExtensions
{
    public static void Add(this System.Collections.ObjectModel.Collection<string> list, params string[] items)
    {
        foreach (string s in items)
            list.Add(s);
    }
}
