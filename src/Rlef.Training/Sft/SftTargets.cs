using Rlef.Training.Config;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Sft;

/// <summary>One turn of a trajectory to imitate: the tokens before the reply and the reply itself.</summary>
public sealed record SftTurn(int[] PromptTokens, int[] ReplyTokens);

/// <summary>
/// A trajectory for supervised fine-tuning: from the project's own rollouts or from any other policy's (so no
/// log-probs). Token layout as in <see cref="TrainingTurn"/>: prompt_1 · reply_1 · prompt_2 · reply_2 · ….
/// </summary>
public sealed record SftTrajectory(string ProblemId, IReadOnlyList<SftTurn> Turns, bool Solved)
{
    public static SftTrajectory From(TrainingEpisode episode) =>
        new(episode.ProblemId, episode.Turns.Select(t => new SftTurn(t.PromptTokens, t.ReplyTokens)).ToList(), episode.Solved);
}

/// <summary>
/// A trajectory laid out for the model: the full token sequence and the positions whose tokens are trained on
/// (each predicted from the position before it). Everything else is context.
/// </summary>
public sealed record SftExample(string ProblemId, int[] Tokens, int[] TargetPositions);

/// <summary>Chooses the replies SFT learns from (docs/protocol.md §3's SFT baseline, and warm starts).</summary>
public static class SftTargets
{
    /// <summary>
    /// The example for <paramref name="trajectory"/>, or null when the config leaves it out:
    /// <see cref="SftTarget.LastSuccessfulReply"/> keeps only solved trajectories and trains on their last reply
    /// (the one whose code passed); <see cref="SftTarget.AllReplies"/> trains on every reply, of solved trajectories
    /// only unless <see cref="SftConfig.OnlySuccessfulTrajectories"/> is off. The whole conversation stays as context.
    /// </summary>
    public static SftExample? Build(SftTrajectory trajectory, SftConfig config)
    {
        if (trajectory.Turns.Count == 0) throw new ArgumentException($"trajectory '{trajectory.ProblemId}' has no turns");
        bool keep = config.LossOn switch
        {
            SftTarget.LastSuccessfulReply => trajectory.Solved,
            SftTarget.AllReplies => trajectory.Solved || !config.OnlySuccessfulTrajectories,
            _ => throw new ArgumentOutOfRangeException(nameof(config), config.LossOn, "unknown SFT target"),
        };
        if (!keep) return null;

        var tokens = new List<int>();
        var targets = new List<int>();
        for (int t = 0; t < trajectory.Turns.Count; t++)
        {
            SftTurn turn = trajectory.Turns[t];
            if (turn.PromptTokens.Length == 0 || turn.ReplyTokens.Length == 0)
                throw new ArgumentException($"trajectory '{trajectory.ProblemId}' turn {t + 1}: empty prompt or reply");
            tokens.AddRange(turn.PromptTokens);
            bool trained = config.LossOn == SftTarget.AllReplies || t == trajectory.Turns.Count - 1;
            if (trained)
                for (int k = 0; k < turn.ReplyTokens.Length; k++) targets.Add(tokens.Count + k);
            tokens.AddRange(turn.ReplyTokens);
        }
        return new SftExample(trajectory.ProblemId, tokens.ToArray(), targets.ToArray());
    }
}
