namespace Rlef.Training.Actors;

/// <summary>
/// One sampler of the run's actor pool with the policy version it serves. An actor whose server fails (after the
/// client's retries) is marked dead for the rest of the run: its unfinished episodes go to the other actors.
/// </summary>
public sealed class Actor(ITokenSampler sampler)
{
    public ITokenSampler Sampler => sampler;
    public string Name => sampler.Name;
    /// <summary>The policy version (learner iterations applied) of the weights this actor samples with.</summary>
    public long Version { get; set; }
    public bool Alive { get; private set; } = true;
    /// <summary>Why it was marked dead.</summary>
    public string? Failure { get; private set; }

    public void MarkDead(string reason)
    {
        Alive = false;
        Failure = reason;
    }
}
