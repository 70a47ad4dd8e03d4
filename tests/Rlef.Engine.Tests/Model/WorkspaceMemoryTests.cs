using Rlef.Engine.Model;
using Rlef.Engine.Sampling;
using Xunit;

namespace Rlef.Engine.Tests.Model;

/// <summary>
/// The model's buffers are sized by tokens per pass, not by the largest batch times the longest sequence, and are not
/// rebuilt when a pass of the same token count comes in another shape: the cause of the miniature's RL process growing
/// to many GB (every regrowth left a GB of garbage on the large-object heap). Asserted on buffer sizes, not on RSS.
/// </summary>
public class WorkspaceMemoryTests
{
    [Fact]
    public void Passes_of_the_same_token_count_reuse_the_training_buffers()
    {
        var config = TinyModels.Config();
        var model = TinyModels.Random(config, 3);
        var rng = new Random(4);
        long? first = null;
        foreach (var (b, t) in new[] { (2, 30), (3, 20), (5, 12), (6, 10), (4, 15), (1, 60), (7, 8) })
        {
            var tokens = TinyModels.Tokens(rng, b * t, config.VocabSize);
            var logp = new float[b * t];
            model.ForwardLogProbs(tokens, tokens, b, t, logp);
            model.BackwardLogProbs(new float[b * t]);
            first ??= model.BufferBytes;
            Assert.Equal(first, model.BufferBytes);
        }
    }

    [Fact]
    public void Buffers_grow_with_tokens_per_pass_and_reserve_sizes_them_once()
    {
        var config = TinyModels.Config();
        var small = TinyModels.Random(config, 3);
        small.Reserve(1, 100);
        var large = TinyModels.Random(config, 3);
        large.Reserve(1, 200);
        long perToken = (large.BufferBytes - small.BufferBytes) / 100;
        Assert.True(perToken > 0);
        // Passes of 2 × 100 and then 4 × 50 tokens fit the 200 reserved: only the attention scratch is added (on the first pass).
        long reserved = large.BufferBytes;
        var tokens = TinyModels.Tokens(new Random(5), 200, config.VocabSize);
        large.ForwardLogProbs(tokens, tokens, 2, 100, new float[200]);
        long afterFirst = large.BufferBytes;
        Assert.True(afterFirst - reserved < reserved / 10, $"the attention scratch took {afterFirst - reserved} bytes");
        large.ForwardLogProbs(tokens, tokens, 4, 50, new float[200]);
        Assert.Equal(afterFirst, large.BufferBytes);
        // Scoring uses its own (layer-shared) buffers, reserved once for the largest batch the scorer will run.
        var sequences = Enumerable.Range(0, 12).Select(i => (IReadOnlyList<int>)TinyModels.Tokens(new Random(i), 5 + 3 * i, config.VocabSize)).ToArray();
        var scorer = TinyModels.Random(config, 3);
        Scorer.LogProbs(scorer, sequences, maxBatchTokens: 64);
        long afterScoring = scorer.BufferBytes;
        Scorer.LogProbs(scorer, sequences, maxBatchTokens: 64);
        Assert.Equal(afterScoring, scorer.BufferBytes);
        // Inference keeps one set of layer activations, so it costs well under a training pass's tokens.
        Assert.True(afterScoring < small.BufferBytes, $"scoring holds {afterScoring} bytes, a 100-token training pass {small.BufferBytes}");
    }
}
