namespace Rlef.Environment.Policies;

/// <summary>
/// The paper's comparison of App. B.4 (docs/protocol.md §3.12): the first reply of every episode comes from
/// <paramref name="first"/> (e.g. a single-turn RL policy), every later reply, written after execution feedback, from
/// <paramref name="repair"/>, a separate repair model.
/// <para>
/// The repair model joins the conversation at the first feedback and sees it as its own: its first turn is the
/// episode's second, so its context's <see cref="PolicyContext.TurnIndex"/> is the episode's minus one (a replay file
/// for it lists the repair replies only; an engine model encodes the conversation so far as one chat, the first
/// policy's reply included, and continues from its own sampled tokens afterwards).
/// </para>
/// </summary>
public sealed class RepairPolicy(IPolicy first, IPolicy repair) : IPolicy, IDisposable
{
    public IPolicy First => first;
    public IPolicy Repair => repair;

    public string Describe() => $"{first.Describe()} (turn 1), repair: {repair.Describe()} (turns 2+)";

    public string Identity() => $"{first.Identity()} + repair {repair.Identity()}";

    public Task<PolicyReply> ReplyAsync(Conversation conversation, PolicyContext context, CancellationToken cancellationToken) =>
        context.TurnIndex == 0
            ? first.ReplyAsync(conversation, context, cancellationToken)
            : repair.ReplyAsync(conversation, context with { TurnIndex = context.TurnIndex - 1, TurnLimit = context.TurnLimit - 1 }, cancellationToken);

    public void Dispose()
    {
        (first as IDisposable)?.Dispose();
        (repair as IDisposable)?.Dispose();
    }
}
