using Rlef.Engine.Sampling;
using Rlef.Environment.Policies;
using Rlef.Training.Rollouts;

namespace Rlef.Training.Tests.Trainer;

public sealed class ModelPolicySeedTests
{
    /// <summary>
    /// The model policy hands out history keys in arrival order; the random stream must come from the episode's own
    /// (task, rollout, turn), so the same episodes asked in another order get the same replies.
    /// </summary>
    [Fact]
    public async Task RepliesDoNotDependOnTheOrderEpisodesArrive()
    {
        var sampling = new SamplingOptions { Temperature = 1.0f, MaxTokens = 12, Seed = 5 };
        var episodes = Enumerable.Range(0, 4).Select(i => (Task: $"t{i % 2}", Rollout: i / 2)).ToList();
        async Task<Dictionary<(string, int), string>> Ask(IEnumerable<(string Task, int Rollout)> order)
        {
            using var policy = new ModelPolicy(PrintTask.Model(seed: 3), PrintTask.Format, sampling, concurrentEpisodes: 1, "test");
            var replies = new Dictionary<(string, int), string>();
            foreach (var (task, rollout) in order)
            {
                var conversation = new Conversation([ChatMessage.User($"Print the number of {task}")]);
                replies[(task, rollout)] = (await policy.ReplyAsync(conversation, new PolicyContext(task, rollout, 0, 3), default)).Text;
            }
            return replies;
        }
        var forward = await Ask(episodes);
        var backward = await Ask(Enumerable.Reverse(episodes));
        Assert.Equal(forward.OrderBy(p => p.Key).ToList(), backward.OrderBy(p => p.Key).ToList());
        Assert.True(forward.Values.Distinct().Count() > 1, "different episodes should draw different random numbers");
    }
}
