namespace Rlef.Engine.Layers;

/// <summary>How rotary frequencies are rescaled for long context (config.json "rope_scaling").</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4,
    int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// Rotary position embedding in the Hugging Face "rotate half" layout used by Llama 3 and Qwen2: within each head
/// the pair (i, i + d/2) is rotated by angle pos·invFreq[i], invFreq[i] = theta^(−2i/d).
/// cos/sin tables grow on demand (a 128k-context model does not pay for positions it never sees).
/// </summary>
public sealed class Rope
{
    private readonly double[] _invFreq; // [d/2]
    private float[] _cos = [], _sin = []; // [positions, d/2]
    private int _length;

    public Rope(int headDim, double theta, RopeScaling? scaling)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head dimension, got {headDim}.");
        HeadDim = headDim;
        int half = headDim / 2;
        _invFreq = new double[half];
        for (int i = 0; i < half; i++) _invFreq[i] = Math.Pow(theta, -2.0 * i / headDim);
        if (scaling != null) ApplyScaling(_invFreq, scaling);
    }

    public int HeadDim { get; }

    private static void ApplyScaling(double[] invFreq, RopeScaling s)
    {
        switch (s.Type)
        {
            case "default":
                return;
            case "linear":
                for (int i = 0; i < invFreq.Length; i++) invFreq[i] /= s.Factor;
                return;
            case "llama3":
                // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, a smooth blend in between.
                double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
                double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
                for (int i = 0; i < invFreq.Length; i++)
                {
                    double wavelen = 2 * Math.PI / invFreq[i];
                    if (wavelen < highWavelen) continue;
                    if (wavelen > lowWavelen) { invFreq[i] /= s.Factor; continue; }
                    double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    invFreq[i] = (1 - smooth) * invFreq[i] / s.Factor + smooth * invFreq[i];
                }
                return;
            default:
                throw new NotSupportedException($"rope_scaling type \"{s.Type}\" is not supported (supported: default, linear, llama3).");
        }
    }

    /// <summary>Makes the tables cover positions [0, length). Call before a parallel region, never inside one.</summary>
    public void EnsureLength(int length)
    {
        if (length <= _length) return;
        int newLength = Math.Max(length, Math.Min(2 * _length, length + 4096));
        int half = HeadDim / 2;
        var cos = new float[newLength * half];
        var sin = new float[newLength * half];
        for (int p = 0; p < newLength; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * _invFreq[i];
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        _cos = cos; _sin = sin; _length = newLength;
    }

    /// <summary>
    /// Rotates x[N, heads, d] in place, row n by positions[n] (n &lt; rows). inverse = true rotates by −angle, which is the backward
    /// (the transpose of a rotation is its inverse).
    /// </summary>
    public void Apply(float[] x, int[] positions, int rows, int heads, bool inverse = false)
    {
        int d = HeadDim, half = d / 2;
        int maxPos = 0;
        for (int n = 0; n < rows; n++) maxPos = Math.Max(maxPos, positions[n]);
        EnsureLength(maxPos + 1);
        var cosTable = _cos; var sinTable = _sin;
        float sign = inverse ? -1f : 1f;
        Parallelism.ForChunks(rows, 3L * heads * d, (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                var cos = cosTable.AsSpan(positions[n] * half, half);
                var sin = sinTable.AsSpan(positions[n] * half, half);
                for (int h = 0; h < heads; h++)
                {
                    var v = x.AsSpan((n * heads + h) * d, d);
                    for (int i = 0; i < half; i++)
                    {
                        float a = v[i], b = v[i + half], c = cos[i], s = sign * sin[i];
                        v[i] = a * c - b * s;
                        v[i + half] = b * c + a * s;
                    }
                }
            }
        });
    }
}
