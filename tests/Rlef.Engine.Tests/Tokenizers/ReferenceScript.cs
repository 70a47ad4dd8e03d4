using System.Diagnostics;
using Rlef.Tests;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>
/// tests/fixtures/npm/reference.mjs under node: the reference implementations (@huggingface/tokenizers and
/// @huggingface/jinja) that the tokenizer tests compare ours against.
/// </summary>
internal static class ReferenceScript
{
    public static readonly string NpmDir = Path.Combine(RepoPaths.Root, "tests", "fixtures", "npm");

    /// <summary>Whether `npm ci` has installed the reference packages in tests/fixtures/npm.</summary>
    public static bool PackagesInstalled => Directory.Exists(Path.Combine(NpmDir, "node_modules", "@huggingface", "tokenizers"));

    /// <summary>Runs the script with <paramref name="arguments"/> and returns its stdout (JSON). Throws
    /// <see cref="System.ComponentModel.Win32Exception"/> when node is not installed.</summary>
    public static string Run(params string[] arguments)
    {
        var psi = new ProcessStartInfo("node", ["reference.mjs", .. arguments])
        {
            WorkingDirectory = NpmDir, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("node reference.mjs ran over 120 s"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"node reference.mjs failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
