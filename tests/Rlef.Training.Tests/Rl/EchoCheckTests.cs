using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;
using Xunit.Abstractions;

namespace Rlef.Training.Tests.Rl;

/// <summary>The print-N task's programs pass or fail as the learning test assumes, through the real episode.</summary>
public sealed class PrintTaskTests(ITestOutputHelper output)
{
    sealed class FixedPolicy(string reply) : IPolicy
    {
        public string Describe() => "fixed";
        public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new PolicyReply(reply));
    }

    [Theory]
    [InlineData("input()", true)]
    [InlineData("7", true)]
    [InlineData("3", false)]
    public async Task EchoAlwaysPassesAndADigitPassesOnlyWhenRight(string expression, bool passes)
    {
        if (!LocalPythonExecutor.Available()) { output.WriteLine("skipped: python3 not found"); return; }
        await using var executor = new LocalPythonExecutor();
        var episode = new Episode(executor, new FixedPolicy(PrintTask.Reply(expression)), new EpisodeOptions { TurnLimit = 1 });
        var rollout = await episode.RunAsync(PrintTask.Problem(0, 7), 0);
        Assert.Equal(passes, rollout.PassedAll);
    }
}
