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
    [InlineData("rlef mini pretrain: --steps must be at least 1", "mini", "pretrain", "--out", "{dir}/model", "--steps", "0")]
    [InlineData("rlef exec: SOLUTION file ", "exec", "{dir}/missing.py")]
    [InlineData("rlef tokenize: ", "tokenize", "--tokenizer", "{dir}/missing.json")]
    [InlineData("rlef data fetch: unknown dataset 'nope' (expected humaneval, humanevalplus, mbpp, mbppplus, apps, codecontests, livecodebench)", "data", "fetch", "nope")]
    [InlineData("rlef data fetch: --mirror {dir}/absent: not an http(s) URL nor an existing folder", "data", "fetch", "humaneval", "--mirror", "{dir}/absent", "--dir", "{dir}/cache")]
    [InlineData("rlef data fetch: mbpp has no split dev", "data", "fetch", "mbpp", "--split", "dev", "--mirror", "{dir}", "--dir", "{dir}/cache")]
    [InlineData("rlef eval: --release, --since and --until apply to --dataset livecodebench only", "eval", "--dataset", "mbpp", "--release", "v1", "--data", "{dir}/x.jsonl", "--policy", "canonical", "--out", "{dir}/out")]
    [InlineData("rlef eval: --since 2024-13-01: expected YYYY-MM-DD", "eval", "--dataset", "livecodebench", "--since", "2024-13-01", "--data", "{dir}", "--policy", "canonical", "--out", "{dir}/out")]
    [InlineData("rlef eval: unknown LiveCodeBench release 'latest'", "eval", "--dataset", "livecodebench", "--release", "latest", "--policy", "canonical", "--out", "{dir}/out")]
    [InlineData("rlef eval: no cached livecodebench data at {dir}/cache/livecodebench", "eval", "--dataset", "livecodebench", "--data-dir", "{dir}/cache", "--policy", "canonical", "--out", "{dir}/out")]
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
        Assert.StartsWith(expectedStart.Replace("{dir}", _dir), text);
        Assert.Single(text.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", text);
    }
}
