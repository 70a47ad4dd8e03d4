namespace Rlef.Training.Rollouts;

// The rollout layout the trainer consumes. The environment keeps its own, richer rollout record (conversations,
// verdicts, timings); collection maps it onto these. Everything here is exact sampled data: token ids are never
// re-tokenised, so the conversation the trainer scores is the one the policy produced (docs/protocol.md §3).

/// <summary>
/// One turn t of an episode. The episode's token sequence is prompt_1 · reply_1 · prompt_2 · reply_2 · …, where
/// prompt_t holds the tokens appended before reply t: the whole first prompt for t = 1, and afterwards the end of
/// the previous assistant message, the feedback message and the next assistant header (chat-template framing
/// included). Only reply tokens were sampled, so only they get a policy gradient.
/// </summary>
public sealed record TrainingTurn
{
    /// <summary>Tokens appended to the context before this reply (see the type's remarks).</summary>
    public required int[] PromptTokens { get; init; }
    /// <summary>The sampled reply, end-of-turn token included when the model emitted one.</summary>
    public required int[] ReplyTokens { get; init; }
    /// <summary>log π_behaviour(token) of each reply token under the distribution it was sampled from (RLEF samples
    /// at temperature 1 without top-p, so these are the policy's own log-probs).</summary>
    public required float[] BehaviourLogProbs { get; init; }
    /// <summary>log ρ(token) of each reply token under the frozen initial policy (for the KL term, docs/protocol.md §2).</summary>
    public required float[] ReferenceLogProbs { get; init; }
    /// <summary>V(c_t) from the value network at collection time, read at the last token of prompt_t (docs/protocol.md §3).</summary>
    public required float Value { get; init; }
    /// <summary>Token-level value ablation only: V before each reply token (the first equals <see cref="Value"/>).</summary>
    public float[]? TokenValues { get; init; }
    /// <summary>No valid code could be extracted from the reply (docs/protocol.md §1).</summary>
    public required bool InvalidCode { get; init; }
}

/// <summary>One finished episode: its turns and whether the final submission passed all tests.</summary>
public sealed record TrainingEpisode(string ProblemId, IReadOnlyList<TrainingTurn> Turns, bool Solved)
{
    /// <summary>Throws with the episode, turn and field named when the arrays do not line up.</summary>
    public void Validate(int episodeIndex, bool needTokenValues)
    {
        string where = $"episode {episodeIndex} ('{ProblemId}')";
        if (Turns.Count == 0) throw new ArgumentException($"{where} has no turns");
        for (int t = 0; t < Turns.Count; t++)
        {
            TrainingTurn turn = Turns[t];
            string at = $"{where} turn {t + 1}";
            if (turn.PromptTokens.Length == 0) throw new ArgumentException($"{at}: prompt_tokens is empty (the value is read at its last token)");
            if (turn.ReplyTokens.Length == 0) throw new ArgumentException($"{at}: reply_tokens is empty");
            if (turn.BehaviourLogProbs.Length != turn.ReplyTokens.Length)
                throw new ArgumentException($"{at}: behaviour_log_probs has {turn.BehaviourLogProbs.Length} entries for {turn.ReplyTokens.Length} reply tokens");
            if (turn.ReferenceLogProbs.Length != turn.ReplyTokens.Length)
                throw new ArgumentException($"{at}: reference_log_probs has {turn.ReferenceLogProbs.Length} entries for {turn.ReplyTokens.Length} reply tokens");
            if (needTokenValues && turn.TokenValues?.Length != turn.ReplyTokens.Length)
                throw new ArgumentException($"{at}: token_values must have one entry per reply token for the token-level value function");
        }
    }
}

/// <summary>
/// An episode laid out as the one sequence the model reads, with the positions the losses need. A causal model
/// predicts token i from position i − 1, so the log-prob of reply token i comes from the logits at i − 1, and the
/// turn-level value V(c_t) is read at the last prompt token, which is also where reply t's first token is predicted.
/// </summary>
public sealed class EpisodeSequence
{
    public EpisodeSequence(TrainingEpisode episode)
    {
        int length = episode.Turns.Sum(t => t.PromptTokens.Length + t.ReplyTokens.Length);
        Tokens = new int[length];
        LossMask = new bool[length];
        ValuePositions = new int[episode.Turns.Count];
        ReplyStarts = new int[episode.Turns.Count];
        int at = 0;
        for (int t = 0; t < episode.Turns.Count; t++)
        {
            TrainingTurn turn = episode.Turns[t];
            turn.PromptTokens.CopyTo(Tokens, at);
            at += turn.PromptTokens.Length;
            ValuePositions[t] = at - 1;
            ReplyStarts[t] = at;
            turn.ReplyTokens.CopyTo(Tokens, at);
            LossMask.AsSpan(at, turn.ReplyTokens.Length).Fill(true);
            at += turn.ReplyTokens.Length;
        }
    }

    /// <summary>prompt_1 · reply_1 · prompt_2 · reply_2 · … [length].</summary>
    public int[] Tokens { get; }
    /// <summary>True where the token was sampled by the policy (reply tokens): those get a policy gradient. [length]</summary>
    public bool[] LossMask { get; }
    /// <summary>Per turn: the index of the last token of prompt_t, where V(c_t) is read. [turns]</summary>
    public int[] ValuePositions { get; }
    /// <summary>Per turn: the index of the first reply token. [turns]</summary>
    public int[] ReplyStarts { get; }
}
