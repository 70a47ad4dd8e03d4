using Rlef.Training.Config;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Ppo;

/// <summary>
/// One PPO update's data, flat in the order the engine must return its outputs: reply tokens episode by episode,
/// turn by turn; value points per turn (read at <see cref="EpisodeSequence.ValuePositions"/>) or, for the
/// token-level ablation, per reply token (read where that token is predicted, one position before it).
/// The normalisers are the token and value-point counts of the whole minibatch: a <see cref="Slice"/> (a
/// micro-batch that fits in memory) keeps them, so its losses and gradients are its exact share of the update's.
/// </summary>
public sealed record PpoMinibatch(
    int[] EpisodeIndices,
    IReadOnlyList<TrainingEpisode> Episodes,
    ValueLevel ValueLevel,
    int[] TurnTokenOffsets,
    float[] OldLogProbs,
    float[] BehaviourLogProbs,
    float[] ReferenceLogProbs,
    float[] Advantages,
    float[] OldValues,
    float[] Returns,
    int TokenNormaliser,
    int ValuePointNormaliser)
{
    public int TokenCount => OldLogProbs.Length;
    public int ValuePointCount => OldValues.Length;

    /// <summary>
    /// Episodes [<paramref name="firstEpisode"/>, +<paramref name="episodeCount"/>) of this minibatch as a micro-batch:
    /// an engine that cannot hold the whole minibatch runs forward, loss and backward per slice and accumulates the
    /// gradients; the sum over slices equals the loss and gradient of the whole minibatch.
    /// </summary>
    public PpoMinibatch Slice(int firstEpisode, int episodeCount)
    {
        if (firstEpisode < 0 || episodeCount <= 0 || firstEpisode + episodeCount > Episodes.Count)
            throw new ArgumentOutOfRangeException(nameof(episodeCount), $"episodes [{firstEpisode}, {firstEpisode + episodeCount}) outside 0..{Episodes.Count}");
        int turnFrom = Episodes.Take(firstEpisode).Sum(e => e.Turns.Count);
        int turnTo = turnFrom + Episodes.Skip(firstEpisode).Take(episodeCount).Sum(e => e.Turns.Count);
        int tokenFrom = TurnTokenOffsets[turnFrom], tokenTo = TurnTokenOffsets[turnTo];
        (int valueFrom, int valueTo) = ValueLevel == ValueLevel.Turn ? (turnFrom, turnTo) : (tokenFrom, tokenTo);
        return this with
        {
            EpisodeIndices = EpisodeIndices[firstEpisode..(firstEpisode + episodeCount)],
            Episodes = Episodes.Skip(firstEpisode).Take(episodeCount).ToList(),
            TurnTokenOffsets = TurnTokenOffsets[turnFrom..(turnTo + 1)].Select(o => o - tokenFrom).ToArray(),
            OldLogProbs = OldLogProbs[tokenFrom..tokenTo],
            BehaviourLogProbs = BehaviourLogProbs[tokenFrom..tokenTo],
            ReferenceLogProbs = ReferenceLogProbs[tokenFrom..tokenTo],
            Advantages = Advantages[tokenFrom..tokenTo],
            OldValues = OldValues[valueFrom..valueTo],
            Returns = Returns[valueFrom..valueTo],
        };
    }
}
