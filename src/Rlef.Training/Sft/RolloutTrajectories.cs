using Rlef.Engine.Tokenizers;
using Rlef.Environment.Rollouts;
using Rlef.Training.Sft;
using EngineMessage = Rlef.Engine.Tokenizers.ChatMessage;

namespace Rlef.Training.Sft;

/// <summary>
/// SFT trajectories from stored rollouts (rollouts.jsonl of `rlef eval`, any policy): the conversation is tokenised
/// turn by turn exactly as the engine policy would have laid it out — the first prompt with the chat template, each
/// reply's text followed by the format's end-of-turn id, each feedback as the format's continuation — so SFT and RL
/// see the same token layout.
/// </summary>
public static class RolloutTrajectories
{
    public static SftTrajectory From(Rollout rollout, IChatFormat format)
    {
        if (rollout.Turns.Count == 0) throw new ArgumentException($"rollout {rollout.TaskId}#{rollout.RolloutIndex} has no turns");
        if (rollout.Conversation.Count == 0 || rollout.Conversation[0].Role != "user")
            throw new ArgumentException($"rollout {rollout.TaskId}#{rollout.RolloutIndex}: the conversation must start with the user's prompt");
        int endOfTurn = format.StopIds.Count > 0 ? format.StopIds[0]
            : throw new ArgumentException("the chat format has no end-of-turn id");
        var turns = new List<SftTurn>(rollout.Turns.Count);
        for (int t = 0; t < rollout.Turns.Count; t++)
        {
            TurnRecord turn = rollout.Turns[t];
            int[] prompt = t == 0
                ? format.EncodeChat([new EngineMessage("user", rollout.Conversation[0].Content)], addGenerationPrompt: true)
                : format.EncodeContinuation(rollout.Turns[t - 1].Feedback
                    ?? throw new ArgumentException($"rollout {rollout.TaskId}#{rollout.RolloutIndex}: turn {t} has no feedback but a turn follows it"),
                    assistantTurnClosed: true);
            turns.Add(new SftTurn(prompt, [.. format.Tokenizer.Encode(turn.Reply), endOfTurn]));
        }
        return new SftTrajectory(rollout.TaskId, turns, rollout.PassedAll);
    }
}
