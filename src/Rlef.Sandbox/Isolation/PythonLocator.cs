using System.Diagnostics;

namespace Rlef.Sandbox;

/// <summary>
/// Finds the real Python interpreter. `python3` on PATH may be a version-manager shim (pyenv) that costs
/// ≈140 ms per start and reads the environment; the sandbox must exec the binary itself.
/// </summary>
public static class PythonLocator
{
    private static readonly Lazy<string> Found = new(Resolve);

    public static string Find() => Found.Value;

    private static string Resolve()
    {
        // Debian's own interpreter lives under /usr, which the sandbox binds read-only anyway.
        foreach (string candidate in new[] { "/usr/bin/python3.11", "/usr/bin/python3" })
            if (File.Exists(candidate))
                return candidate;
        try
        {
            var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import sys; print(sys.executable)");
            using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
            string path = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode == 0 && File.Exists(path))
                return path;
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
        throw new InvalidOperationException(
            "no Python 3 interpreter found: install python3 (e.g. `apt-get install python3`) or set SandboxOptions.PythonPath");
    }
}
