namespace Rlef.Cli.Tests;

/// <summary>Every verb's user errors end the same way: one line "rlef VERB: message" and exit code 2, no stack trace.</summary>
public sealed class UserErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-cli-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("rlef train: ", "train", "--config", "{dir}/missing.yaml", "--run", "{dir}/run")]
    [InlineData("rlef train: ", "train", "--resume", "{dir}/run", "--config", "{dir}/x.yaml")]
    [InlineData("rlef mini generate: --difficulty: ", "mini", "generate", "--out", "{dir}/data", "--difficulty", "impossible")]
    [InlineData("rlef mini pretrain: --steps must be > 0", "mini", "pretrain", "--out", "{dir}/model", "--steps", "0")]
    [InlineData("rlef exec: SOLUTION file ", "exec", "{dir}/missing.py")]
    [InlineData("rlef tokenize: ", "tokenize", "--tokenizer", "{dir}/missing.json")]
    public async Task UserErrorsExitWith2AndOneLine(string expectedStart, params string[] args)
    {
        var error = new StringWriter();
        var savedIn = Console.In;
        Console.SetIn(new StringReader(""));
        int code;
        try { code = await RlefCommand.RunAsync(args.Select(a => a.Replace("{dir}", _dir)).ToArray(), error); }
        finally { Console.SetIn(savedIn); }
        string text = error.ToString();
        Assert.Equal(2, code);
        Assert.StartsWith(expectedStart, text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", text);
    }
}
