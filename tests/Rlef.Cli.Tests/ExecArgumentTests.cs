using System.Security.Cryptography;

namespace Rlef.Cli.Tests;

/// <summary>
/// `rlef exec` on hostile arguments: out-of-bounds numbers, a directory as the solution, oversized inputs, and stdin
/// that must reach the program byte for byte. User errors exit 2 with one line on stderr, never a stack trace.
/// </summary>
[Collection("sandbox")]
public sealed class ExecArgumentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-exec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Program(string code) => Write("solution.py", System.Text.Encoding.UTF8.GetBytes(code));

    private static void AssertOneLineUserError(CliRunner.Result r, string expected)
    {
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", r.Stderr); // no stack trace
    }

    [Theory]
    [InlineData("--time-limit", "nan")]
    [InlineData("--time-limit", "NaN")]
    [InlineData("--time-limit", "Infinity")]
    [InlineData("--time-limit", "1e300")]
    [InlineData("--time-limit", "0")]
    [InlineData("--time-limit", "-5")]
    [InlineData("--memory-limit", "0")]
    [InlineData("--memory-limit", "-1")]
    public async Task OutOfBoundsNumbersAreAOneLineUserError(string option, string value)
    {
        string solution = Program("print(1)\n");
        var r = await CliRunner.RunAsync("exec", solution, option, value, "--no-isolation");
        AssertOneLineUserError(r, option);
    }

    [Fact]
    public async Task AnUnparsableNumberIsAUserErrorToo()
    {
        var r = await CliRunner.RunAsync("exec", Program("print(1)\n"), "--time-limit", "ten");
        AssertOneLineUserError(r, "ten");
    }

    [Fact]
    public async Task ADirectoryAsTheSolutionIsNamedAsADirectory()
    {
        var r = await CliRunner.RunAsync("exec", _dir);
        AssertOneLineUserError(r, "is a directory");
    }

    [Fact]
    public async Task AStdinFileOverTheCapIsRefusedBeforeAnythingRuns()
    {
        string big = Path.Combine(_dir, "big.txt");
        using (var f = File.Create(big))
            f.SetLength(Rlef.Cli.Commands.ExecCommand.MaxInputBytes + 1); // sparse: no need to write 64 MiB
        var r = await CliRunner.RunAsync("exec", Program("print(1)\n"), "--stdin", big);
        AssertOneLineUserError(r, "cap");
    }

    [Fact]
    public async Task StdinReachesTheProgramByteForByte()
    {
        byte[] input = [0xEF, 0xBB, 0xBF, (byte)'a', 0xFF, 0xFE, (byte)'\n', 0x80, 0x00, (byte)'z'];
        string digest = $"{input.Length} {Convert.ToHexStringLower(SHA256.HashData(input))}\n";
        string solution = Program("import sys, hashlib\nd = sys.stdin.buffer.read()\nprint(len(d), hashlib.sha256(d).hexdigest())\n");
        var r = await CliRunner.RunAsync("exec", solution, "--stdin", Write("in.bin", input), "--expected", Write("out.txt", System.Text.Encoding.UTF8.GetBytes(digest)),
            "--comparison", "Exact");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task AnInputOfManyMegabytesPassesWhole()
    {
        byte[] input = new byte[24 << 20];
        new Random(5).NextBytes(input);
        string digest = $"{input.Length} {Convert.ToHexStringLower(SHA256.HashData(input))}\n";
        string solution = Program("import sys, hashlib\nd = sys.stdin.buffer.read()\nprint(len(d), hashlib.sha256(d).hexdigest())\n");
        var r = await CliRunner.RunAsync("exec", solution, "--stdin", Write("in.bin", input), "--expected", Write("out.txt", System.Text.Encoding.UTF8.GetBytes(digest)));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
    }
}
