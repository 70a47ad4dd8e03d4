using Rlef.Engine.Kernels;
using Rlef.Engine.Optim;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Tests.Optim;

[Collection(Kernels.EngineThreadsCollection.Name)]
public sealed class AdamWTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rlef-adamw-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FirstStepByHand()
    {
        // Step 1: m = (1−β1)g and v = (1−β2)g², so the bias-corrected ratio is g/|g|: the weight moves by lr·sign(g)
        // (less ε), and decay takes lr·λ·w off the matrix but not the vector.
        var matrix = new Parameter("w", [1, 2]);
        var vector = new Parameter("b", [2]);
        matrix.Data[0] = 1f; matrix.Data[1] = -2f; matrix.Grad[0] = 0.5f; matrix.Grad[1] = -4f;
        vector.Data[0] = 1f; vector.Data[1] = 3f; vector.Grad[0] = -0.25f; vector.Grad[1] = 0f;
        var adam = new AdamW([matrix, vector], new AdamWOptions { Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8, WeightDecay = 0.01 });
        adam.Update(0.1);
        Assert.Equal(1L, adam.Step);
        Assert.Equal(1 - 0.001f - 0.1f, matrix.Data[0], 6);   // 0.899
        Assert.Equal(-2 + 0.002f + 0.1f, matrix.Data[1], 6);  // -1.898
        Assert.Equal(1 + 0.1f, vector.Data[0], 6);            // not decayed: 1.1
        Assert.Equal(3f, vector.Data[1]);                      // zero gradient, no decay: unchanged
        var (m, v) = adam.GetState(matrix)!.Value;
        Assert.Equal(0.05f, m[0], 7);
        Assert.Equal(0.001f * 16, v[1], 7);
    }

    [Fact]
    public void SeveralStepsMatchTheFormulaInDouble()
    {
        // 37 elements: two 16-wide vectors and a scalar tail; a 70,001-element tensor spans several parallel chunks.
        foreach (int length in new[] { 37, 70_001 })
        {
            var p = new Parameter("w", [length, 1]);
            var random = new Random(length);
            for (int i = 0; i < length; i++) p.Data[i] = (float)(random.NextDouble() - 0.5);
            double[] w = p.Data.Select(x => (double)x).ToArray(), m = new double[length], v = new double[length];
            var options = new AdamWOptions { Beta1 = 0.8, Beta2 = 0.95, Epsilon = 1e-6, WeightDecay = 0.1 };
            var adam = new AdamW([p], options);
            double[] rates = [0.01, 0.02, 0.005, 0.03];
            for (int t = 1; t <= rates.Length; t++)
            {
                double lr = rates[t - 1], scale = t == 2 ? 0.25 : 1;
                for (int i = 0; i < length; i++) p.Grad[i] = (float)(random.NextDouble() * 2 - 1) * (i % 7 + 1);
                for (int i = 0; i < length; i++)
                {
                    double g = p.Grad[i] * scale;
                    w[i] -= lr * 0.1 * w[i];
                    m[i] = 0.8 * m[i] + 0.2 * g;
                    v[i] = 0.95 * v[i] + 0.05 * g * g;
                    double mHat = m[i] / (1 - Math.Pow(0.8, t)), vHat = v[i] / (1 - Math.Pow(0.95, t));
                    w[i] -= lr * mHat / (Math.Sqrt(vHat) + 1e-6);
                }
                adam.Update(lr, scale);
            }
            for (int i = 0; i < length; i++) Assert.True(Math.Abs(w[i] - p.Data[i]) < 1e-6, $"length {length}, w[{i}] = {p.Data[i]}, expected {w[i]}");
        }
    }

    [Fact]
    public void FrozenParametersAreNotTouched()
    {
        var trained = new Parameter("a", [4, 4]);
        var frozen = new Parameter("b", [4, 4]) { Frozen = true };
        Array.Fill(trained.Grad, 1f);
        Array.Fill(frozen.Grad, 1f);
        Array.Fill(frozen.Data, 2f);
        var adam = new AdamW([trained, frozen], new AdamWOptions { WeightDecay = 0.5 });
        adam.Update(0.1);
        Assert.All(frozen.Data, x => Assert.Equal(2f, x));
        Assert.Null(adam.GetState(frozen));
        Assert.All(trained.Data, x => Assert.Equal(-0.1f, x, 5));
    }

    [Fact]
    public void ResultDoesNotDependOnThreadCount()
    {
        float[] Run(int threads)
        {
            var p = new Parameter("w", [100_000]);
            var random = new Random(5);
            for (int i = 0; i < p.Length; i++) (p.Data[i], p.Grad[i]) = ((float)random.NextDouble(), (float)random.NextDouble() - 0.5f);
            int saved = EngineThreads.Degree;
            EngineThreads.Degree = threads;
            try { new AdamW([p]).Update(1e-3); }
            finally { EngineThreads.Degree = saved; }
            return p.Data;
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void SavedStateResumesBitForBit()
    {
        (Parameter[] Ps, AdamW Adam) Make()
        {
            Parameter[] ps = [new("x.weight", [5, 7]), new("x.bias", [7]), new("frozen", [3]) { Frozen = true }];
            var random = new Random(9);
            foreach (var p in ps) for (int i = 0; i < p.Length; i++) p.Data[i] = (float)random.NextDouble();
            return (ps, new AdamW(ps, new AdamWOptions { WeightDecay = 0.1 }));
        }
        void Gradients(Parameter[] ps, int step)
        {
            var random = new Random(step);
            foreach (var p in ps) for (int i = 0; i < p.Length; i++) p.Grad[i] = (float)random.NextDouble() - 0.5f;
        }

        var (a, adamA) = Make();
        for (int s = 0; s < 3; s++) { Gradients(a, s); adamA.Update(0.01); }
        string path = Path.Combine(_dir, "optimizer.safetensors");
        adamA.SaveState(path);

        var (b, adamB) = Make();
        for (int i = 0; i < a.Length; i++) a[i].Data.CopyTo(b[i].Data, 0);
        adamB.LoadState(path);
        Assert.Equal(3L, adamB.Step);
        Assert.Null(adamB.GetState(b[2]));
        for (int s = 3; s < 5; s++)
        {
            Gradients(a, s); adamA.Update(0.01);
            Gradients(b, s); adamB.Update(0.01);
        }
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Data, b[i].Data);
    }

    [Fact]
    public void StateFileErrorsNameTheProblem()
    {
        var p = new Parameter("w", [2, 2]);
        var adam = new AdamW([p]);
        adam.Update(0.1);
        string path = Path.Combine(_dir, "state.safetensors");
        adam.SaveState(path);

        var other = new AdamW([new Parameter("w", [4])]);
        Assert.Contains("'w.exp_avg' has shape [2, 2]", Assert.Throws<InvalidDataException>(() => other.LoadState(path)).Message);
        var missing = new AdamW([new Parameter("u", [2, 2])]);
        Assert.Contains("no moments for trainable parameter 'u'", Assert.Throws<InvalidDataException>(() => missing.LoadState(path)).Message);

        string weights = Path.Combine(_dir, "weights.safetensors");
        Rlef.Engine.IO.Safetensors.Save(weights, [p]);
        Assert.Contains("not an AdamW state file", Assert.Throws<InvalidDataException>(() => adam.LoadState(weights)).Message);
    }

    [Fact]
    public void CheckpointHoldsWeightsAndOptimizerState()
    {
        var p = new Parameter("model.norm.weight", [3]);
        p.Data[0] = 1; p.Grad[0] = 1;
        var adam = new AdamW([p]);
        adam.Update(0.5);
        TrainingCheckpoint.Save(_dir, adam);

        var q = new Parameter("model.norm.weight", [3]);
        var restored = new AdamW([q]);
        TrainingCheckpoint.Load(_dir, restored);
        Assert.Equal(p.Data, q.Data);
        Assert.Equal(1L, restored.Step);
        Assert.Equal(adam.GetState(p)!.Value.V, restored.GetState(q)!.Value.V);
    }

    [Fact]
    public void InvalidSettingsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([], new AdamWOptions { Beta2 = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new AdamW([]).Update(double.NaN));
        var dup = new Parameter("w", [1]);
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() => new AdamW([dup, new Parameter("w", [1])])).Message);
    }
}
