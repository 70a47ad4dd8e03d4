namespace Rlef.Training.Runs;

/// <summary>
/// Every random stream of training and of the miniature's pretraining, by name: how each is derived from the run's
/// seed. The constants are part of the results: a run reproduces bit for bit only while they stay as they are.
/// Elsewhere: sampling gives each reply its own stream named by (seed, task, rollout, turn)
/// (<see cref="Rollouts.EnginePolicy.TurnSeed"/>); generated problems derive one per split from the dataset seed
/// (<c>Rlef.Mini.Synthetic.SyntheticDataset</c>); the bootstrap of the reports takes its seed from the evaluation
/// options.
/// </summary>
public static class RandomStreams
{
    // A training run (schedule.seed, model.init_seed).

    /// <summary>The order of the training problems in epoch <paramref name="epoch"/> (<see cref="DataOrder"/>).</summary>
    public static Xoshiro256 ProblemOrder(ulong seed, long epoch) => Xoshiro256.ForStream(seed, (ulong)epoch);

    /// <summary>How each iteration's episodes are dealt into PPO minibatches; its state is checkpointed.</summary>
    public static Xoshiro256 PpoMinibatches(ulong seed) => Xoshiro256.ForStream(seed, 0x4D49_4E49UL);

    /// <summary>The sampling seed of the rollouts of PPO iteration <paramref name="iteration"/>.</summary>
    public static int RolloutSampling(ulong seed, long iteration) => unchecked((int)seed * 7919 + (int)iteration);

    /// <summary>The sampling seed of every validation (the same each time, so validations compare policies alone).</summary>
    public static int ValidationSampling(ulong seed) => unchecked((int)seed * 31 + 17);

    /// <summary>The fresh scalar head of the value network.</summary>
    public static int ValueHead(int initSeed) => initSeed + 1;

    /// <summary>The order of the SFT examples in epoch <paramref name="epoch"/> (`rlef sft`).</summary>
    public static Xoshiro256 SftExampleOrder(ulong seed, int epoch) => Xoshiro256.ForStream(seed, 0x5F7_0000UL + (ulong)epoch);

    // The miniature's pretraining (`rlef mini pretrain`).

    /// <summary>The draws of corpus conversation <paramref name="index"/> (seeded Random is stable across runs).</summary>
    public static Random CorpusConversation(int seed, int index) => new(unchecked(seed * 1_000_003 + index));

    /// <summary>The order of the examples in epoch <paramref name="epoch"/>, before grouping by length.</summary>
    public static Xoshiro256 PretrainExampleOrder(ulong seed, int epoch) => Xoshiro256.ForStream(seed, 0x6D1_0000UL + (ulong)epoch);

    /// <summary>The order of the length-grouped batches in epoch <paramref name="epoch"/>.</summary>
    public static Xoshiro256 PretrainBatchOrder(ulong seed, int epoch) => Xoshiro256.ForStream(seed, 0x6D2_0000UL + (ulong)epoch);

    /// <summary>The single-turn measurement of a start policy; the multi-turn one uses the seed itself.</summary>
    public static int StartSingleTurnSampling(int seed) => seed + 1;
}
