using Rlef.Engine.Model;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Tests.Model;

// The engine's forward against a separate, deliberately naive implementation of the Hugging Face Llama/Qwen forward
// (double precision, one token and one head at a time, written from the modelling code's definitions, sharing no code
// with Layers/). The gradient checks prove the backward matches the forward; this proves the forward is the right one:
// rotate-half RoPE, GQA head mapping, biases, Qwen3's q/k norm, tied embeddings.
public class ReferenceForwardTests
{
    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("smollm")]
    public void Logits_equal_a_naive_reference_forward(string family)
    {
        var config = family switch
        {
            "llama" => TinyModels.Config(kvHeads: 2) with { RopeTheta = 500000 },
            "qwen2" => TinyModels.Config(qkvBias: true, kvHeads: 1),
            "qwen3" => TinyModels.Qwen3Config(),
            _ => TinyModels.Config(tied: true, kvHeads: 4),
        };
        var model = TinyModels.Random(config, seed: 17);
        int[] tokens = [3, 14, 15, 9, 2, 6, 5, 3];
        var logits = new float[tokens.Length * config.VocabSize];
        model.ComputeLogits(tokens, 1, tokens.Length, logits);
        var expected = NaiveForward(model, tokens);
        for (int i = 0; i < logits.Length; i++)
            Assert.True(Math.Abs(expected[i] - logits[i]) < 1e-3 + 1e-4 * Math.Abs(expected[i]),
                $"logit {i}: engine {logits[i]}, reference {expected[i]}");
    }

    private static double[] NaiveForward(LlamaModel model, int[] tokens)
    {
        var c = model.Config;
        var p = model.Parameters.ToDictionary(x => x.Name);
        int T = tokens.Length, C = c.HiddenSize, H = c.NumAttentionHeads, KVH = c.NumKeyValueHeads, d = c.HeadDim, V = c.VocabSize;
        double eps = c.RmsNormEps;
        var h = new double[T][];
        for (int t = 0; t < T; t++) h[t] = Row(p["model.embed_tokens.weight"], tokens[t]);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string pre = $"model.layers.{l}.";
            var q = new double[T][]; var k = new double[T][]; var v = new double[T][];
            for (int t = 0; t < T; t++)
            {
                var x = Norm(h[t], p[pre + "input_layernorm.weight"], eps);
                q[t] = MatVec(p[pre + "self_attn.q_proj.weight"], x, p.GetValueOrDefault(pre + "self_attn.q_proj.bias"));
                k[t] = MatVec(p[pre + "self_attn.k_proj.weight"], x, p.GetValueOrDefault(pre + "self_attn.k_proj.bias"));
                v[t] = MatVec(p[pre + "self_attn.v_proj.weight"], x, p.GetValueOrDefault(pre + "self_attn.v_proj.bias"));
                if (c.QkNorm)
                {
                    for (int hh = 0; hh < H; hh++) NormInPlace(q[t], hh * d, d, p[pre + "self_attn.q_norm.weight"], eps);
                    for (int hh = 0; hh < KVH; hh++) NormInPlace(k[t], hh * d, d, p[pre + "self_attn.k_norm.weight"], eps);
                }
                for (int hh = 0; hh < H; hh++) Rotate(q[t], hh * d, d, t, c.RopeTheta);
                for (int hh = 0; hh < KVH; hh++) Rotate(k[t], hh * d, d, t, c.RopeTheta);
            }
            for (int t = 0; t < T; t++)
            {
                var att = new double[H * d];
                for (int hh = 0; hh < H; hh++)
                {
                    int g = hh / (H / KVH); // repeat_kv: query head hh reads key/value head hh / n_rep
                    var s = new double[t + 1];
                    for (int j = 0; j <= t; j++)
                    {
                        for (int i = 0; i < d; i++) s[j] += q[t][hh * d + i] * k[j][g * d + i];
                        s[j] /= Math.Sqrt(d);
                    }
                    double max = s.Max(), z = s.Sum(x => Math.Exp(x - max));
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < d; i++) att[hh * d + i] += Math.Exp(s[j] - max) / z * v[j][g * d + i];
                }
                var o = MatVec(p[pre + "self_attn.o_proj.weight"], att, p.GetValueOrDefault(pre + "self_attn.o_proj.bias"));
                for (int i = 0; i < C; i++) h[t][i] += o[i];
                var x2 = Norm(h[t], p[pre + "post_attention_layernorm.weight"], eps);
                var gate = MatVec(p[pre + "mlp.gate_proj.weight"], x2, null);
                var up = MatVec(p[pre + "mlp.up_proj.weight"], x2, null);
                var act = gate.Select((gv, i) => gv / (1 + Math.Exp(-gv)) * up[i]).ToArray();
                var down = MatVec(p[pre + "mlp.down_proj.weight"], act, null);
                for (int i = 0; i < C; i++) h[t][i] += down[i];
            }
        }
        var head = p.GetValueOrDefault("lm_head.weight") ?? p["model.embed_tokens.weight"];
        var logits = new double[T * V];
        for (int t = 0; t < T; t++)
            MatVec(head, Norm(h[t], p["model.norm.weight"], eps), null).CopyTo(logits, t * V);
        return logits;
    }

    private static double[] Row(Parameter w, int r) => w.Data.Skip(r * w.Shape[1]).Take(w.Shape[1]).Select(x => (double)x).ToArray();

    private static double[] MatVec(Parameter w, double[] x, Parameter? bias)
    {
        int rows = w.Shape[0], cols = w.Shape[1];
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = bias?.Data[r] ?? 0;
            for (int j = 0; j < cols; j++) s += w.Data[r * cols + j] * x[j];
            y[r] = s;
        }
        return y;
    }

    private static double[] Norm(double[] x, Parameter w, double eps)
    {
        var y = (double[])x.Clone();
        NormInPlace(y, 0, x.Length, w, eps);
        return y;
    }

    private static void NormInPlace(double[] x, int offset, int n, Parameter w, double eps)
    {
        double ms = 0;
        for (int i = 0; i < n; i++) ms += x[offset + i] * x[offset + i];
        double r = 1 / Math.Sqrt(ms / n + eps);
        for (int i = 0; i < n; i++) x[offset + i] = w.Data[i] * (x[offset + i] * r);
    }

    // HF apply_rotary_pos_emb: x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1], frequencies repeated twice.
    private static void Rotate(double[] x, int offset, int d, int position, double theta)
    {
        var rotated = new double[d];
        for (int i = 0; i < d; i++)
        {
            double freq = Math.Pow(theta, -2.0 * (i % (d / 2)) / d);
            double angle = position * freq;
            double half = i < d / 2 ? -x[offset + i + d / 2] : x[offset + i - d / 2];
            rotated[i] = x[offset + i] * Math.Cos(angle) + half * Math.Sin(angle);
        }
        Array.Copy(rotated, 0, x, offset, d);
    }
}
