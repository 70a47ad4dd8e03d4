using Rlef.Sandbox;
using Rlef.Environment.Episodes;
using Rlef.Environment.Policies;

namespace Rlef.Training.Tests.Trainer;

/// <summary>The print-N task's programs pass or fail as the learning test assumes, through the real episode.</summary>
public sealed class PrintTaskTests
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
        await using var executor = new SandboxPool();
        var episode = new Episode(executor, new FixedPolicy(PrintTask.Reply(expression)), new EpisodeOptions { TurnLimit = 1 });
        var rollout = await episode.RunAsync(PrintTask.Problem(0, 7), 0);
        Assert.Equal(passes, rollout.PassedAll);
    }
}
