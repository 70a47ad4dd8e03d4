namespace Rlef.Engine.Tensors;

/// <summary>
/// A trainable tensor: flat row-major fp32 data, a gradient of the same size, and its shape.
/// The model exposes its weights as a list of these; the optimizer, safetensors I/O and checkpoints work on that list.
/// </summary>
public sealed class Parameter
{
    public Parameter(string name, int[] shape)
    {
        Name = name;
        Shape = shape;
        long count = 1;
        foreach (int d in shape) count *= d;
        Data = new float[count];
        Grad = new float[count];
    }

    /// <summary>Hugging Face style name, e.g. "model.layers.0.self_attn.q_proj.weight".</summary>
    public string Name { get; }
    public int[] Shape { get; }
    public float[] Data { get; }
    public float[] Grad { get; }
    /// <summary>Frozen parameters get no optimizer updates (the reference policy is a frozen copy).</summary>
    public bool Frozen { get; set; }
    public int Length => Data.Length;

    public void ZeroGrad() => Array.Clear(Grad);

    /// <summary>
    /// Counts writes to <see cref="Data"/> that copies derived from it must notice (the packed weights of
    /// <see cref="PackedWeightCache"/>): the optimizer and the loaders call <see cref="MarkChanged"/> after writing.
    /// </summary>
    public int Version => _version;

    /// <summary>Call after writing <see cref="Data"/>.</summary>
    public void MarkChanged() => Interlocked.Increment(ref _version);

    private int _version;
}
