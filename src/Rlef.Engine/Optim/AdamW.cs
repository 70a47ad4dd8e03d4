using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Rlef.Engine.IO;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Optim;

/// <summary>AdamW hyper-parameters other than the learning rate, which is given per update.</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay λ: each update takes lr·λ·w off a decayed weight.</summary>
    public double WeightDecay { get; init; }
    /// <summary>
    /// Which parameters are decayed. Default: tensors of rank ≥ 2 (matrices, embeddings), not norm weights and
    /// biases, as is usual for transformers.
    /// </summary>
    public Func<Parameter, bool> Decays { get; init; } = p => p.Shape.Length >= 2;

    internal void Validate()
    {
        if (Beta1 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "AdamW: beta1 must lie in [0, 1).");
        if (Beta2 is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "AdamW: beta2 must lie in [0, 1).");
        if (!(Epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "AdamW: epsilon must be positive.");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "AdamW: weight decay must be ≥ 0.");
    }
}

/// <summary>
/// Adam with decoupled weight decay (Loshchilov and Hutter), with the update rule of PyTorch's torch.optim.AdamW:
/// <code>
/// g = scale·grad;  w ← w − lr·λ·w
/// m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
/// w ← w − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε)
/// </code>
/// (w − lr·λ·w rather than w·(1 − lr·λ): at RLEF's learning rates 1 − lr·λ rounds to 1 in fp32.)
/// Frozen parameters are skipped (no moments are allocated for them). Updates are fused into one vectorised pass
/// over w, g, m, v, parallel over fixed-size pieces of all parameters.
/// <para>A training step with gradient accumulation over n micro-batches and clipping:</para>
/// <code>
/// double norm = Gradients.GlobalNorm(parameters, scale: 1.0 / n);          // norm of the mean gradient
/// if (double.IsFinite(norm))
///     adam.Update(schedule.At(adam.Step), Gradients.ClipFactor(norm, maxNorm) / n);
/// Gradients.Zero(parameters);
/// </code>
/// </summary>
public sealed class AdamW
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly float[]?[] _m, _v;

    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Options = options ?? new AdamWOptions();
        Options.Validate();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in parameters)
            if (!names.Add(p.Name)) throw new ArgumentException($"AdamW: parameter '{p.Name}' is listed twice.", nameof(parameters));
        _parameters = parameters;
        _m = new float[]?[parameters.Count];
        _v = new float[]?[parameters.Count];
    }

    public AdamWOptions Options { get; }
    public IReadOnlyList<Parameter> Parameters => _parameters;
    /// <summary>Updates taken so far (t in the bias corrections).</summary>
    public long Step { get; private set; }

    /// <summary>The first and second moments of a parameter, or null while it has never been updated.</summary>
    public (float[] M, float[] V)? GetState(Parameter parameter)
    {
        int i = IndexOf(parameter);
        return _m[i] is { } m ? (m, _v[i]!) : null;
    }

    /// <summary>
    /// One update of every trainable parameter from its gradient times <paramref name="gradientScale"/> (use it to
    /// average accumulated micro-batch gradients and to apply a clip factor without another pass over them).
    /// </summary>
    public void Update(double learningRate, double gradientScale = 1)
    {
        if (!(learningRate >= 0) || !double.IsFinite(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "AdamW: the learning rate must be finite and ≥ 0.");
        if (!double.IsFinite(gradientScale))
            throw new ArgumentOutOfRangeException(nameof(gradientScale), gradientScale, "AdamW: the gradient scale must be finite.");
        for (int i = 0; i < _parameters.Count; i++)
            if (!_parameters[i].Frozen && _m[i] is null)
            {
                _m[i] = new float[_parameters[i].Length];
                _v[i] = new float[_parameters[i].Length];
            }

        Step++;
        double beta1 = Options.Beta1, beta2 = Options.Beta2;
        var coefficients = new Coefficients
        {
            Beta1 = (float)beta1,
            OneMinusBeta1 = (float)(1 - beta1),
            Beta2 = (float)beta2,
            OneMinusBeta2 = (float)(1 - beta2),
            StepSize = (float)(learningRate / (1 - Math.Pow(beta1, Step))),
            InverseSqrtBias2 = (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, Step))),
            Epsilon = (float)Options.Epsilon,
            GradientScale = (float)gradientScale,
        };
        float decayRate = (float)(learningRate * Options.WeightDecay);
        var decays = _parameters.Select(p => Options.Decays(p)).ToArray();
        var chunks = ParameterChunk.Split(_parameters, p => !p.Frozen);
        ParameterChunk.ForEach(chunks, (_, c) =>
        {
            var p = _parameters[c.Parameter];
            var range = new Range(c.Start, c.Start + c.Length);
            UpdateRange(p.Data.AsSpan(range), p.Grad.AsSpan(range), _m[c.Parameter].AsSpan(range), _v[c.Parameter].AsSpan(range),
                decays[c.Parameter] ? decayRate : 0f, coefficients);
        });
        foreach (var p in _parameters) if (!p.Frozen) p.MarkChanged();
    }

    private struct Coefficients
    {
        public float Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, StepSize, InverseSqrtBias2, Epsilon, GradientScale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRange(Span<float> w, ReadOnlySpan<float> grad, Span<float> m, Span<float> v, float decayRate, in Coefficients k)
    {
        int i = 0, n = w.Length;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float wr = ref MemoryMarshal.GetReference(w);
            ref float gr = ref MemoryMarshal.GetReference(grad);
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float vr = ref MemoryMarshal.GetReference(v);
            var beta1 = Vector512.Create(k.Beta1); var oneMinusBeta1 = Vector512.Create(k.OneMinusBeta1);
            var beta2 = Vector512.Create(k.Beta2); var oneMinusBeta2 = Vector512.Create(k.OneMinusBeta2);
            var stepSize = Vector512.Create(k.StepSize); var inverseSqrtBias2 = Vector512.Create(k.InverseSqrtBias2);
            var epsilon = Vector512.Create(k.Epsilon); var scale = Vector512.Create(k.GradientScale); var decayV = Vector512.Create(decayRate);
            for (; i + 16 <= n; i += 16)
            {
                nuint at = (nuint)i;
                var g = Vector512.LoadUnsafe(ref gr, at) * scale;
                var mi = beta1 * Vector512.LoadUnsafe(ref mr, at) + oneMinusBeta1 * g;
                var vi = beta2 * Vector512.LoadUnsafe(ref vr, at) + oneMinusBeta2 * (g * g);
                var denominator = Vector512.Sqrt(vi) * inverseSqrtBias2 + epsilon;
                var wOld = Vector512.LoadUnsafe(ref wr, at);
                var wi = wOld - decayV * wOld - stepSize * mi / denominator;
                mi.StoreUnsafe(ref mr, at);
                vi.StoreUnsafe(ref vr, at);
                wi.StoreUnsafe(ref wr, at);
            }
        }
        else if (Vector256.IsHardwareAccelerated) // AVX2: the same expressions, 8 lanes
        {
            ref float wr = ref MemoryMarshal.GetReference(w);
            ref float gr = ref MemoryMarshal.GetReference(grad);
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float vr = ref MemoryMarshal.GetReference(v);
            var beta1 = Vector256.Create(k.Beta1); var oneMinusBeta1 = Vector256.Create(k.OneMinusBeta1);
            var beta2 = Vector256.Create(k.Beta2); var oneMinusBeta2 = Vector256.Create(k.OneMinusBeta2);
            var stepSize = Vector256.Create(k.StepSize); var inverseSqrtBias2 = Vector256.Create(k.InverseSqrtBias2);
            var epsilon = Vector256.Create(k.Epsilon); var scale = Vector256.Create(k.GradientScale); var decayV = Vector256.Create(decayRate);
            for (; i + 8 <= n; i += 8)
            {
                nuint at = (nuint)i;
                var g = Vector256.LoadUnsafe(ref gr, at) * scale;
                var mi = beta1 * Vector256.LoadUnsafe(ref mr, at) + oneMinusBeta1 * g;
                var vi = beta2 * Vector256.LoadUnsafe(ref vr, at) + oneMinusBeta2 * (g * g);
                var denominator = Vector256.Sqrt(vi) * inverseSqrtBias2 + epsilon;
                var wOld = Vector256.LoadUnsafe(ref wr, at);
                var wi = wOld - decayV * wOld - stepSize * mi / denominator;
                mi.StoreUnsafe(ref mr, at);
                vi.StoreUnsafe(ref vr, at);
                wi.StoreUnsafe(ref wr, at);
            }
        }
        // The scalar tail computes the same expressions in the same order as the vector loop.
        for (; i < n; i++)
        {
            float g = grad[i] * k.GradientScale;
            float mi = k.Beta1 * m[i] + k.OneMinusBeta1 * g;
            float vi = k.Beta2 * v[i] + k.OneMinusBeta2 * (g * g);
            float denominator = MathF.Sqrt(vi) * k.InverseSqrtBias2 + k.Epsilon;
            m[i] = mi;
            v[i] = vi;
            w[i] = w[i] - decayRate * w[i] - k.StepSize * mi / denominator;
        }
    }

    private const string StepKey = "step", FormatKey = "format", Format = "rlef-adamw";

    /// <summary>
    /// Writes the moments of every parameter that has them ("NAME.exp_avg", "NAME.exp_avg_sq", fp32) and the step
    /// count (metadata "step") to a safetensors file.
    /// </summary>
    public void SaveState(string path)
    {
        var tensors = new List<NamedTensor>();
        for (int i = 0; i < _parameters.Count; i++)
        {
            if (_m[i] is null) continue;
            tensors.Add(new NamedTensor(_parameters[i].Name + ".exp_avg", _parameters[i].Shape, _m[i]));
            tensors.Add(new NamedTensor(_parameters[i].Name + ".exp_avg_sq", _parameters[i].Shape, _v[i]));
        }
        var metadata = new Dictionary<string, string>
        {
            [FormatKey] = Format,
            [StepKey] = Step.ToString(CultureInfo.InvariantCulture),
            ["beta1"] = Options.Beta1.ToString("R", CultureInfo.InvariantCulture),
            ["beta2"] = Options.Beta2.ToString("R", CultureInfo.InvariantCulture),
            ["epsilon"] = Options.Epsilon.ToString("R", CultureInfo.InvariantCulture),
            ["weight_decay"] = Options.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
        };
        Safetensors.Save(path, tensors, SafetensorsDType.F32, metadata);
    }

    /// <summary>
    /// Restores the step count and moments written by <see cref="SaveState"/>. Every trainable parameter needs its
    /// moments in the file once the saved step is past 0; frozen ones load them when present.
    /// </summary>
    public void LoadState(string path)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(FormatKey, out string? format) || format != Format)
            throw new InvalidDataException($"{path}: not an AdamW state file (metadata '{FormatKey}' is '{format}', expected '{Format}').");
        if (!file.Metadata.TryGetValue(StepKey, out string? stepText) ||
            !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            throw new InvalidDataException($"{path}: metadata '{StepKey}' is missing or not a non-negative integer ('{stepText}').");

        var m = new float[]?[_parameters.Count];
        var v = new float[]?[_parameters.Count];
        for (int i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i];
            string mName = p.Name + ".exp_avg", vName = p.Name + ".exp_avg_sq";
            bool present = file.Contains(mName) && file.Contains(vName);
            if (!present)
            {
                if (step > 0 && !p.Frozen)
                    throw new InvalidDataException($"{path}: no moments for trainable parameter '{p.Name}' ('{mName}', '{vName}').");
                continue;
            }
            foreach (string name in new[] { mName, vName })
                if (!file.GetInfo(name).Shape.AsSpan().SequenceEqual(p.Shape))
                    throw new InvalidDataException($"{path}: '{name}' has shape [{string.Join(", ", file.GetInfo(name).Shape)}], " +
                        $"the parameter is [{string.Join(", ", p.Shape)}].");
            m[i] = file.Read(mName);
            v[i] = file.Read(vName);
        }
        // Commit only once everything has been read, so a bad file leaves the optimizer as it was.
        Array.Copy(m, _m, m.Length);
        Array.Copy(v, _v, v.Length);
        Step = step;
    }

    private int IndexOf(Parameter parameter)
    {
        for (int i = 0; i < _parameters.Count; i++)
            if (ReferenceEquals(_parameters[i], parameter)) return i;
        throw new ArgumentException($"AdamW: '{parameter.Name}' is not one of the optimizer's parameters.", nameof(parameter));
    }
}
