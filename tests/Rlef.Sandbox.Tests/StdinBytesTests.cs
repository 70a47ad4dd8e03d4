using System.Security.Cryptography;
using System.Text;

namespace Rlef.Sandbox.Tests;

/// <summary>Stdin reaches the program byte for byte: a byte order mark stays, invalid UTF-8 is not re-encoded.</summary>
[Collection("pool")]
public class StdinBytesTests(PoolFixture f)
{
    private const string Digest = "import sys, hashlib\nd = sys.stdin.buffer.read()\nprint(len(d), hashlib.sha256(d).hexdigest())\n";

    private static string Expected(byte[] input) => $"{input.Length} {Convert.ToHexStringLower(SHA256.HashData(input))}\n";

    [Theory]
    [InlineData(new byte[] { 0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i', (byte)'\n' })] // a BOM, then valid text
    [InlineData(new byte[] { (byte)'a', 0xFF, 0xFE, 0x80, (byte)'\n', 0xC3 })]     // invalid UTF-8, a cut sequence at the end
    [InlineData(new byte[] { 0x00, 0x01, 0x02, 0xED, 0xA0, 0x80 })]                 // NUL and an encoded surrogate
    public async Task TheProgramReadsExactlyTheBytesGiven(byte[] input)
    {
        var report = await f.Pool.RunAsync(new ExecutionRequest
        {
            Code = Digest,
            Tests = [TestCase.Stdio(input, Expected(input))],
            Comparison = Comparison.Exact,
        });
        Assert.Equal(Verdict.Passed, report.Results[0].Verdict);
    }

    [Fact]
    public void ValidUtf8TravelsAsTextAndTheRestAsBytes()
    {
        Assert.Null(TestCase.Stdio(Encoding.UTF8.GetBytes("\uFEFFtext"), null).InputBytes);
        Assert.Equal("\uFEFFtext", TestCase.Stdio(Encoding.UTF8.GetBytes("\uFEFFtext"), null).Input);
        Assert.NotNull(TestCase.Stdio([0xFF], null).InputBytes);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(1e300)]
    [InlineData(-1)]
    public async Task ATimeLimitOutsideItsRangeIsRefused(double seconds)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => f.Pool.RunAsync(new ExecutionRequest
        {
            Code = "print(1)",
            Tests = [TestCase.Stdio("", null)],
            Limits = new ExecutionLimits { CpuTimeSeconds = seconds, WallTimeSeconds = seconds },
        }));
        Assert.Contains("Limits", e.Message);
    }
}
