using Rlef.Training.Config;
using Rlef.Training.Sft;

namespace Rlef.Training.Tests;

public class SftTests
{
    static readonly SftTrajectory TwoTurns = new("P",
    [
        new SftTurn([1, 2], [10, 11]),
        new SftTurn([3], [12, 13, 14]),
    ], Solved: true);

    [Fact]
    public void Last_successful_reply_trains_only_the_final_reply_with_the_whole_conversation_as_context()
    {
        SftExample example = SftTargets.Build(TwoTurns, new SftConfig())!;
        Assert.Equal([1, 2, 10, 11, 3, 12, 13, 14], example.Tokens);
        Assert.Equal([5, 6, 7], example.TargetPositions);
        Assert.Null(SftTargets.Build(TwoTurns with { Solved = false }, new SftConfig()));
    }

    [Fact]
    public void All_replies_trains_every_reply()
    {
        var config = new SftConfig { LossOn = SftTarget.AllReplies };
        Assert.Equal([2, 3, 5, 6, 7], SftTargets.Build(TwoTurns, config)!.TargetPositions);
        Assert.Null(SftTargets.Build(TwoTurns with { Solved = false }, config));
        Assert.NotNull(SftTargets.Build(TwoTurns with { Solved = false }, config with { OnlySuccessfulTrajectories = false }));
    }
}
