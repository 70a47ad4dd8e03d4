using Rlef.Mini.Synthetic;

namespace Rlef.Mini.Tests.Synthetic;

public class DifficultyTests
{
    [Fact]
    public void NamesResolveToThePresetsAndOverridesReplaceOnlyTheirShare()
    {
        Assert.Equal(Difficulty.Easy, Difficulty.FromName("EASY"));
        var d = Difficulty.FromName("easy:multicase=0.55, edge=0.3");
        Assert.Equal(0.55, d.MultiCaseProbability);
        Assert.Equal(0.3, d.EdgeCaseProbability);
        Assert.Equal(Difficulty.Easy with { MultiCaseProbability = 0.55, EdgeCaseProbability = 0.3 }, d);
        Assert.Equal(0.5, Difficulty.FromName("easy:position=0.5").PositionProbability);
    }

    [Theory]
    [InlineData("trivial", "unknown difficulty 'trivial'")]
    [InlineData("easy:multicase", "override 'multicase' is not key=number")]
    [InlineData("easy:steps=3", "unknown override 'steps'")]
    [InlineData("easy:multicase=1.5", "probabilities must lie in [0, 1]")]
    [InlineData("easy:position=-0.1", "probabilities must lie in [0, 1]")]
    public void BadNamesAreRefusedSayingWhatIsWrong(string name, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Difficulty.FromName(name));
        Assert.Contains(message, e.Message);
    }
}
