using Rlef.Training.Runs;
using Rlef.Training.Ppo;

namespace Rlef.Training.Tests;

public class DataTests
{
    [Fact]
    public void Xoshiro256_matches_the_reference_outputs_for_state_1_2_3_4()
    {
        var rng = Xoshiro256.FromState([1, 2, 3, 4]);
        Assert.Equal(11520UL, rng.NextUInt64());
        Assert.Equal(0UL, rng.NextUInt64());
        Assert.Equal(1509978240UL, rng.NextUInt64());
    }

    [Fact]
    public void Xoshiro256_state_round_trip_continues_the_same_stream()
    {
        var rng = new Xoshiro256(42);
        for (int i = 0; i < 10; i++) rng.NextUInt64();
        var copy = Xoshiro256.FromState(rng.GetState());
        for (int i = 0; i < 100; i++) Assert.Equal(rng.NextUInt64(), copy.NextUInt64());
        Assert.Throws<ArgumentException>(() => Xoshiro256.FromState([0, 0, 0, 0]));
    }

    [Fact]
    public void NextInt_is_in_range_and_roughly_uniform()
    {
        var rng = new Xoshiro256(3);
        var counts = new int[6];
        for (int i = 0; i < 60_000; i++) counts[rng.NextInt(6)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_400, 10_600)); // > 6 sigma
    }

    [Fact]
    public void Data_order_visits_every_problem_once_per_epoch_and_resumes_exactly()
    {
        var order = new DataOrder(10, seed: 5);
        int[] epoch0 = order.Take(10);
        Assert.Equal(Enumerable.Range(0, 10), epoch0.Order());
        Assert.Equal(new DataPosition(1, 0), order.Position);
        int[] epoch1 = order.Take(10);
        Assert.Equal(Enumerable.Range(0, 10), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);

        var full = new DataOrder(10, seed: 5);
        full.Take(13);
        DataPosition saved = full.Position;
        Assert.Equal(new DataPosition(1, 3), saved);
        int[] rest = full.Take(20);
        Assert.Equal(rest, new DataOrder(10, seed: 5, saved).Take(20));
        Assert.NotEqual(epoch0, new DataOrder(10, seed: 6).Take(10));
    }

    [Fact]
    public void Minibatches_partition_the_episodes()
    {
        int[][] batches = Minibatches.Split(1024, 4, new Xoshiro256(1));
        Assert.All(batches, b => Assert.Equal(256, b.Length));
        Assert.Equal(Enumerable.Range(0, 1024), batches.SelectMany(b => b).Order());
        Assert.NotEqual(Enumerable.Range(0, 256), batches[0]); // shuffled

        int[][] uneven = Minibatches.Split(10, 4, new Xoshiro256(1));
        Assert.Equal([3, 3, 2, 2], uneven.Select(b => b.Length));
        Assert.Equal(batches, Minibatches.Split(1024, 4, new Xoshiro256(1))); // seeded: reproducible
    }
}
