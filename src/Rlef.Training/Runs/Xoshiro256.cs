namespace Rlef.Training.Runs;

/// <summary>
/// xoshiro256** (Blackman and Vigna): a small, fast generator whose whole state is four 64-bit words, so a run can
/// checkpoint it and continue the same stream after a resume (System.Random cannot be saved).
/// </summary>
public sealed class Xoshiro256
{
    ulong _s0, _s1, _s2, _s3;

    /// <summary>Seeds the four words from SplitMix64, as the authors recommend (never all zero).</summary>
    public Xoshiro256(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>An independent stream for (seed, stream), e.g. the shuffle of epoch 7 of the data.</summary>
    public static Xoshiro256 ForStream(ulong seed, ulong stream)
    {
        ulong x = seed;
        ulong mixedSeed = SplitMix64(ref x) ^ (stream * 0xD1B54A32D192ED03UL + 0x8CB92BA72F3D8DD7UL);
        return new Xoshiro256(mixedSeed);
    }

    /// <summary>Restores a generator from <see cref="GetState"/>.</summary>
    public static Xoshiro256 FromState(IReadOnlyList<ulong> state)
    {
        if (state.Count != 4) throw new ArgumentException($"xoshiro256 state must have 4 words, got {state.Count}", nameof(state));
        if (state.All(w => w == 0)) throw new ArgumentException("xoshiro256 state must not be all zero", nameof(state));
        var rng = new Xoshiro256(0);
        (rng._s0, rng._s1, rng._s2, rng._s3) = (state[0], state[1], state[2], state[3]);
        return rng;
    }

    public ulong[] GetState() => [_s0, _s1, _s2, _s3];

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's multiply-and-reject).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "must be > 0");
        ulong bound = (ulong)n;
        ulong threshold = (0UL - bound) % bound;
        while (true)
        {
            UInt128 product = (UInt128)NextUInt64() * bound;
            if ((ulong)product >= threshold) return (int)(ulong)(product >> 64);
        }
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    static ulong SplitMix64(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));
}
