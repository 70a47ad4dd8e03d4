using Rlef.Environment.Problems;
using Rlef.Mini.Synthetic;

namespace Rlef.Mini;

/// <summary>
/// The miniature's data, fixed in one place: the generator seed, the difficulty and the split sizes used by both the
/// pretraining of the shipped policy (`rlef mini pretrain`) and the RLEF run (`rlef mini`). The test split depends
/// only on <see cref="Seed"/>, <see cref="TestCount"/> and <see cref="Difficulty"/> (SyntheticDataset draws it first),
/// so the pretraining's larger train split leaves valid and test identical, and RL's train split is a prefix of it.
/// </summary>
public static class MiniDataset
{
    public const int Seed = 20261130;
    public const string DifficultyName = "easy:multicase=0.3,position=0.8,open=1";
    public static Difficulty Difficulty => Difficulty.FromName(DifficultyName);

    /// <summary>Train problems of the RLEF run (the first ones of the pretraining's train split).</summary>
    public const int TrainCount = 2000;
    public const int ValidCount = 100;
    public const int TestCount = 200;
    /// <summary>Train problems the SFT corpus of the starting policy is drawn from.</summary>
    public const int PretrainTrainCount = 8000;

    /// <summary>The splits with <paramref name="trainCount"/> train problems (valid and test do not depend on it).</summary>
    /// <param name="difficulty">A difficulty name (<see cref="Difficulty.FromName"/>); the miniature's by default.</param>
    public static SyntheticSplits Generate(int trainCount, string difficulty = DifficultyName) =>
        SyntheticDataset.GenerateSplits(Seed, trainCount, ValidCount, TestCount, Rlef.Mini.Synthetic.Difficulty.FromName(difficulty));

    /// <summary>Writes train/valid/test JSONL (CodeContests schema) into <paramref name="directory"/>.</summary>
    public static IReadOnlyList<string> Write(SyntheticSplits splits, string directory) => SyntheticDataset.WriteSplits(splits, directory);

    /// <summary>A split's problems as the environment sees them (read back through the CodeContests loader).</summary>
    public static IReadOnlyList<Problem> Load(string directory, string split) =>
        CodeContestsLoader.Load(Path.Combine(directory, $"{split}.jsonl"));
}
