using Rlef.Engine.Layers;
using Rlef.Engine.Tensors;

namespace Rlef.Engine.Model;

// The forward and backward passes. Shapes: B batch, T sequence, N = B·T rows, C hidden, QD = H·d, KVD = KVH·d,
// I intermediate, V vocabulary.
public sealed partial class LlamaModel
{
    // ───────────────────────────── training passes (activations kept for the backward) ─────────────────────────────

    /// <summary>
    /// Training forward of the language model: logProbs[b,t] = log p(targets[b,t] | tokens[b,0..t]).
    /// tokens, targets, logProbs: [B,T] row-major. scored[b,t] (optional) says which positions need a log-prob: the others
    /// skip the LM head (PPO's prompt tokens) and get 0. entropy[b,t] (optional) receives the entropy of the predicted
    /// distribution at each scored position (a metric; no gradient flows through it). Follow with <see cref="BackwardLogProbs"/>.
    /// </summary>
    public void ForwardLogProbs(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seqLen, Span<float> logProbs,
        ReadOnlySpan<bool> scored = default, Span<float> entropy = default)
    {
        RequireHead(ModelHead.LanguageModel);
        int n = CheckShape(tokens, batch, seqLen);
        if (targets.Length != n || logProbs.Length != n) throw new ArgumentException($"targets and logProbs must have {n} = B·T entries.");
        var ws = TrainingWorkspace(batch, seqLen);
        tokens.CopyTo(ws.Tokens);
        SetTrainingPositions(ws, batch, seqLen);
        SelectHeadRows(ws, n, targets, scored);
        _trainingEnds = ScoredEnds(scored, batch, seqLen);
        RunTrunk(ws, batch, seqLen, past: 0, cache: null, start: null, _trainingEnds);
        LanguageHeadForward(ws, n, logProbs, entropy);
        ws.Batch = batch; ws.Seq = seqLen; ws.Kind = ForwardKind.LogProbs;
    }

    /// <summary>
    /// Backward of the last <see cref="ForwardLogProbs"/>: dLogProbs[b,t] = ∂L/∂logProbs[b,t] (zero on tokens without
    /// loss, and on every position the forward did not score). Gradients are added to each parameter's Grad (call
    /// <see cref="ZeroGrad"/> between optimizer steps).
    /// </summary>
    public void BackwardLogProbs(ReadOnlySpan<float> dLogProbs)
    {
        var ws = RequireTrainingPass(ForwardKind.LogProbs);
        int n = ws.Batch * ws.Seq, m = ws.HeadCount, c = Config.HiddenSize, v = Config.VocabSize;
        if (dLogProbs.Length != n) throw new ArgumentException($"dLogProbs must have {n} = B·T entries.");
        bool all = ws.HeadAllRows;
        if (!all)
        {
            // Position by position: a difference of sums would misfire on huge gradients (a diverging PPO ratio)
            // through rounding, and miss NaNs.
            var scored = new bool[n];
            for (int r = 0; r < m; r++) scored[ws.HeadRowIndex[r]] = true;
            for (int i = 0; i < n; i++)
                if (!scored[i] && dLogProbs[i] != 0)
                    throw new ArgumentException($"dLogProbs is non-zero ({dLogProbs[i]}) at position {i}, which the forward did not score.");
            ws.DLn.AsSpan(0, n * c).Clear();
        }
        for (int r = 0; r < m; r++) ws.HeadLogProbs[r] = dLogProbs[ws.HeadRowIndex[r]];
        var w = LmHead!;
        for (int r0 = 0; r0 < m; r0 += ws.HeadRows)
        {
            int rows = Math.Min(ws.HeadRows, m - r0);
            var x = HeadInput(ws, r0, rows);
            if (!ws.LogitsCoverAllRows) Linear.Forward(ws.Logits.AsSpan(0, rows * v), x, w.Data, default, rows, c, v);
            TokenLogProbs.Backward(ws.Logits, ws.HeadLse.AsMemory(r0, rows), ws.HeadLogProbs.AsMemory(r0, rows), ws.HeadTargets.AsMemory(r0, rows), rows, v);
            var dx = all ? ws.DLn.AsSpan(r0 * c, rows * c) : ws.HeadDIn.AsSpan(0, rows * c);
            Linear.Backward(dx, false, Grad(w), default, ws.Logits.AsSpan(0, rows * v), x, w.Data, rows, c, v);
            if (!all)
                for (int r = 0; r < rows; r++) dx.Slice(r * c, c).CopyTo(ws.DLn.AsSpan(ws.HeadRowIndex[r0 + r] * c, c));
        }
        ws.LogitsCoverAllRows = false; // the buffer now holds gradients
        BackwardTrunk(ws);
    }

    /// <summary>
    /// Forward and backward of the weighted cross-entropy L = Σ weights[b,t]·(−log p(targets[b,t])): the SFT and
    /// pre-training loss. Choose weights to normalise (e.g. 1/number of loss tokens) and to mask (0). Returns L.
    /// </summary>
    public float TrainCrossEntropy(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, ReadOnlySpan<float> weights, int batch, int seqLen)
    {
        int n = batch * seqLen;
        if (weights.Length != n) throw new ArgumentException($"weights must have {n} = B·T entries.");
        Span<bool> scored = n <= 16384 ? stackalloc bool[n] : new bool[n];
        Span<float> logp = n <= 4096 ? stackalloc float[n] : new float[n];
        Span<float> grad = n <= 4096 ? stackalloc float[n] : new float[n];
        for (int i = 0; i < n; i++) scored[i] = weights[i] != 0;
        ForwardLogProbs(tokens, targets, batch, seqLen, logp, scored);
        double loss = 0;
        for (int i = 0; i < n; i++) { loss -= (double)weights[i] * logp[i]; grad[i] = -weights[i]; }
        BackwardLogProbs(grad);
        return (float)loss;
    }

    /// <summary>
    /// Training forward of the value model: values[b,t] = V(tokens[b,0..t]). Follow with <see cref="BackwardValues"/>.
    /// used[b,t] (optional) marks the values the caller reads: each sequence's columns after its last used one are
    /// skipped by attention (right padding) and get value 0, and their dValues must be 0.
    /// </summary>
    public void ForwardValues(ReadOnlySpan<int> tokens, int batch, int seqLen, Span<float> values, ReadOnlySpan<bool> used = default)
    {
        RequireHead(ModelHead.Value);
        int n = CheckShape(tokens, batch, seqLen);
        if (values.Length != n) throw new ArgumentException($"values must have {n} = B·T entries.");
        var ws = TrainingWorkspace(batch, seqLen);
        tokens.CopyTo(ws.Tokens);
        SetTrainingPositions(ws, batch, seqLen);
        if (!used.IsEmpty && used.Length != n) throw new ArgumentException($"used must have {n} = B·T entries.");
        _trainingEnds = ScoredEnds(used, batch, seqLen);
        RunTrunk(ws, batch, seqLen, past: 0, cache: null, start: null, _trainingEnds);
        ValueHead(ws, n, values);
        if (_trainingEnds != null)
            for (int b = 0; b < batch; b++) values.Slice(b * seqLen + _trainingEnds[b], seqLen - _trainingEnds[b]).Clear();
        ws.Batch = batch; ws.Seq = seqLen; ws.Kind = ForwardKind.Values;
    }

    /// <summary>Backward of the last <see cref="ForwardValues"/>: dValues[b,t] = ∂L/∂values[b,t] (zero where no loss).</summary>
    public void BackwardValues(ReadOnlySpan<float> dValues)
    {
        var ws = RequireTrainingPass(ForwardKind.Values);
        int n = ws.Batch * ws.Seq, c = Config.HiddenSize;
        if (dValues.Length != n) throw new ArgumentException($"dValues must have {n} = B·T entries.");
        if (_trainingEnds != null)
            for (int b = 0; b < ws.Batch; b++)
                for (int t = _trainingEnds[b]; t < ws.Seq; t++)
                    if (dValues[b * ws.Seq + t] != 0) throw new ArgumentException($"dValues[{b},{t}] is non-zero after sequence {b}'s last used position.");
        var w = ValueWeight!; var bias = ValueBias!;
        // values[n] = LnF[n]·w + b  ⇒  dLnF[n] = dv[n]·w, dw += Σ dv[n]·LnF[n], db += Σ dv[n].
        for (int r = 0; r < n; r++)
        {
            float g = dValues[r];
            var dln = ws.DLn.AsSpan(r * c, c);
            dln.Clear();
            if (g == 0) continue;
            Simd.Axpy(g, w.Data, dln);
            if (!w.Frozen) Simd.Axpy(g, ws.LnF.AsSpan(r * c, c), w.Grad);
            if (!bias.Frozen) bias.Grad[0] += g;
        }
        BackwardTrunk(ws);
    }

    // ───────────────────────────── inference passes (no backward) ─────────────────────────────

    /// <summary>
    /// Teacher-forced log-probs without keeping activations: logProbs[b,t] = log p(targets[b,t] | tokens[b,0..t]);
    /// with scored given, only where scored[b,t] (0 elsewhere); entropy as in <see cref="ForwardLogProbs"/>.
    /// </summary>
    public void ScoreLogProbs(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int batch, int seqLen, Span<float> logProbs,
        ReadOnlySpan<bool> scored = default, Span<float> entropy = default)
    {
        RequireHead(ModelHead.LanguageModel);
        int n = CheckShape(tokens, batch, seqLen);
        if (targets.Length != n || logProbs.Length != n) throw new ArgumentException($"targets and logProbs must have {n} = B·T entries.");
        var ws = InferenceWorkspace(batch, seqLen);
        tokens.CopyTo(ws.Tokens);
        SetTrainingPositions(ws, batch, seqLen);
        SelectHeadRows(ws, n, targets, scored);
        RunTrunk(ws, batch, seqLen, past: 0, cache: null, start: null, ScoredEnds(scored, batch, seqLen));
        LanguageHeadForward(ws, n, logProbs, entropy);
    }

    /// <summary>Full logits [B,T,V] (for tests and small inputs: B·T·V floats).</summary>
    public void ComputeLogits(ReadOnlySpan<int> tokens, int batch, int seqLen, Span<float> logits)
    {
        RequireHead(ModelHead.LanguageModel);
        int n = CheckShape(tokens, batch, seqLen), c = Config.HiddenSize, v = Config.VocabSize;
        if (logits.Length != (long)n * v) throw new ArgumentException($"logits must have B·T·V = {(long)n * v} entries.");
        var ws = InferenceWorkspace(batch, seqLen);
        tokens.CopyTo(ws.Tokens);
        SetTrainingPositions(ws, batch, seqLen);
        RunTrunk(ws, batch, seqLen, past: 0, cache: null, start: null);
        Project(logits, ws.LnF.AsSpan(0, n * c), LmHead!, default, n, c, v);
    }

    /// <summary>Values [B,T] without keeping activations.</summary>
    public void ComputeValues(ReadOnlySpan<int> tokens, int batch, int seqLen, Span<float> values)
    {
        RequireHead(ModelHead.Value);
        int n = CheckShape(tokens, batch, seqLen);
        if (values.Length != n) throw new ArgumentException($"values must have {n} = B·T entries.");
        var ws = InferenceWorkspace(batch, seqLen);
        tokens.CopyTo(ws.Tokens);
        SetTrainingPositions(ws, batch, seqLen);
        RunTrunk(ws, batch, seqLen, past: 0, cache: null, start: null);
        ValueHead(ws, n, values);
    }

    /// <summary>
    /// Appends tokens[B, count] (row-major, column cache.Length onwards) to the cache and returns the logits [B,V] of
    /// each sequence's last new token. A long prompt is processed in chunks of the cache's prefill size. Columns before
    /// a sequence's start (see <see cref="KvCache.Reset"/>) are padding: any valid token id, masked out.
    /// The returned span is valid until the next call on this cache.
    /// </summary>
    public ReadOnlySpan<float> Decode(KvCache cache, ReadOnlySpan<int> tokens, int count)
    {
        RequireHead(ModelHead.LanguageModel);
        int batch = cache.Batch, c = Config.HiddenSize, v = Config.VocabSize;
        if (count <= 0 || tokens.Length != batch * count) throw new ArgumentException($"tokens must have B·count = {batch}·{count} entries.");
        if (cache.Length + count > cache.Capacity)
            throw new InvalidOperationException($"KV cache full: {cache.Length} + {count} columns exceed its capacity {cache.Capacity}.");
        var ws = cache.Work;
        int tq = 0;
        for (int c0 = 0; c0 < count; c0 += tq)
        {
            tq = Math.Min(cache.ChunkFor(batch), count - c0);
            int past = cache.Length;
            for (int b = 0; b < batch; b++)
                for (int t = 0; t < tq; t++)
                {
                    ws.Tokens[b * tq + t] = tokens[b * count + c0 + t];
                    ws.Positions[b * tq + t] = Math.Max(0, past + t - cache.Start[b]);
                }
            RunTrunk(ws, batch, tq, past, cache, cache.Start);
            cache.Length += tq;
        }
        for (int b = 0; b < batch; b++) ws.LnF.AsSpan((b * tq + tq - 1) * c, c).CopyTo(ws.HeadIn.AsSpan(b * c, c));
        var logits = ws.Logits.AsSpan(0, batch * v);
        Project(logits, ws.HeadIn.AsSpan(0, batch * c), LmHead!, default, batch, c, v);
        return logits;
    }

    // ───────────────────────────── the decoder stack ─────────────────────────────

    // Sequence b's columns from ends[b] on, after its last scored position, feed no returned log-prob and (causal
    // attention) no earlier column: attention skips their query rows (null: score everything).
    private int[]? _trainingEnds;

    private static int[]? ScoredEnds(ReadOnlySpan<bool> scored, int batch, int seqLen)
    {
        if (scored.IsEmpty) return null;
        var ends = new int[batch];
        for (int b = 0; b < batch; b++)
            ends[b] = scored.Slice(b * seqLen, seqLen).LastIndexOf(true) + 1;
        return ends;
    }

    // Runs the layers over ws.Tokens[B·tq] at ws.Positions, leaving the final normed hidden state in ws.LnF.
    // Without a cache, keys/values stay in the layer's own buffers (past = 0); with one, they are appended to it.
    // end[b] (optional): attention skips the query rows of columns ≥ end[b], whose outputs nothing reads.
    private void RunTrunk(Workspace ws, int batch, int tq, int past, KvCache? cache, int[]? start, int[]? end = null)
    {
        var cfg = Config;
        int n = batch * tq, c = cfg.HiddenSize, qd = cfg.QDim, kvd = cfg.KvDim, inter = cfg.IntermediateSize;
        float eps = cfg.RmsNormEps;
        _rope.EnsureLength(past + tq);
        Embedding.Forward(ws.Layers[0].Input.AsSpan(0, n * c), ws.Tokens.AsSpan(0, n), Embed.Data, c);
        for (int l = 0; l < Layers.Count; l++)
        {
            var a = ws.Layers[l];
            var w = Layers[l];
            // Attention block: Mid = Input + o_proj(attention(rope(q), rope(k), v)) over RMSNorm(Input).
            RmsNorm.Forward(a.Ln1, a.Ln1Rstd, a.Input, w.InputNorm.Data, n, c, eps);
            var ln1 = a.Ln1.AsSpan(0, n * c);
            if (cfg.QkNorm)
            {
                // Qwen3: RMSNorm over each head of q and k (rows of head_dim) before RoPE.
                Project(a.QRaw.AsSpan(0, n * qd), ln1, w.Q, Bias(w.QBias), n, c, qd);
                Project(a.KRaw.AsSpan(0, n * kvd), ln1, w.K, Bias(w.KBias), n, c, kvd);
                RmsNorm.Forward(a.Q, a.QRstd, a.QRaw, w.QNorm!.Data, n * cfg.NumAttentionHeads, cfg.HeadDim, eps);
                RmsNorm.Forward(a.K, a.KRstd, a.KRaw, w.KNorm!.Data, n * cfg.NumKeyValueHeads, cfg.HeadDim, eps);
            }
            else
            {
                Project(a.Q.AsSpan(0, n * qd), ln1, w.Q, Bias(w.QBias), n, c, qd);
                Project(a.K.AsSpan(0, n * kvd), ln1, w.K, Bias(w.KBias), n, c, kvd);
            }
            Project(a.V.AsSpan(0, n * kvd), ln1, w.V, Bias(w.VBias), n, c, kvd);
            _rope.Apply(a.Q, ws.Positions, n, cfg.NumAttentionHeads);
            _rope.Apply(a.K, ws.Positions, n, cfg.NumKeyValueHeads);
            float[] keys = a.K, values = a.V;
            int capacity = tq;
            if (cache != null)
            {
                keys = cache.K[l]; values = cache.V[l]; capacity = cache.Capacity;
                for (int b = 0; b < batch; b++)
                {
                    a.K.AsSpan(b * tq * kvd, tq * kvd).CopyTo(keys.AsSpan((b * capacity + past) * kvd));
                    a.V.AsSpan(b * tq * kvd, tq * kvd).CopyTo(values.AsSpan((b * capacity + past) * kvd));
                }
            }
            Attention.Forward(a.Att, a.Lse, a.Q, keys, values, batch, tq, past, capacity, cfg.NumAttentionHeads, cfg.NumKeyValueHeads,
                cfg.HeadDim, start, ws.AttentionScratch(batch, tq, capacity), end);
            Project(ws.Proj.AsSpan(0, n * c), a.Att.AsSpan(0, n * qd), w.O, Bias(w.OBias), n, qd, c);
            if (a.Mid != a.Input) a.Input.AsSpan(0, n * c).CopyTo(a.Mid);
            Residual.AddInPlace(a.Mid.AsSpan(0, n * c), ws.Proj.AsSpan(0, n * c));

            // MLP block: Out = Mid + down(silu(gate(x)) ⊙ up(x)), x = RMSNorm(Mid).
            RmsNorm.Forward(a.Ln2, a.Ln2Rstd, a.Mid, w.PostNorm.Data, n, c, eps);
            var ln2 = a.Ln2.AsSpan(0, n * c);
            Project(a.Gate.AsSpan(0, n * inter), ln2, w.Gate, default, n, c, inter);
            Project(a.Up.AsSpan(0, n * inter), ln2, w.Up, default, n, c, inter);
            SwiGlu.Forward(a.H, a.Gate, a.Up, n * inter);
            Project(ws.Proj.AsSpan(0, n * c), a.H.AsSpan(0, n * inter), w.Down, default, n, inter, c);
            var next = l + 1 < Layers.Count ? ws.Layers[l + 1].Input : ws.Final;
            if (next != a.Mid) a.Mid.AsSpan(0, n * c).CopyTo(next);
            Residual.AddInPlace(next.AsSpan(0, n * c), ws.Proj.AsSpan(0, n * c));
        }
        RmsNorm.Forward(ws.LnF, ws.LnFRstd, ws.Final, FinalNorm.Data, n, c, eps);
    }

    // Backward of RunTrunk (training workspace, past = 0), from ∂L/∂LnF in ws.DLn.
    private void BackwardTrunk(Workspace ws)
    {
        if (IsFrozen) throw new InvalidOperationException("This model is frozen (a reference copy): it has no gradients.");
        var cfg = Config;
        int batch = ws.Batch, t = ws.Seq, n = batch * t;
        int c = cfg.HiddenSize, qd = cfg.QDim, kvd = cfg.KvDim, inter = cfg.IntermediateSize;
        var dResid = ws.DResid;
        dResid.AsSpan(0, n * c).Clear();
        RmsNorm.Backward(dResid, GradOrNull(FinalNorm), ws.DLn, ws.Final, FinalNorm.Data, ws.LnFRstd, n, c, ws.NormScratch);
        for (int l = Layers.Count - 1; l >= 0; l--)
        {
            var a = ws.Layers[l];
            var w = Layers[l];
            // MLP block. The residual passes dResid through unchanged; the branch adds its input gradient to it.
            Linear.Backward(ws.DH.AsSpan(0, n * inter), false, Grad(w.Down), default, dResid.AsSpan(0, n * c), a.H.AsSpan(0, n * inter),
                w.Down.Data, n, inter, c);
            SwiGlu.Backward(ws.DGate, ws.DUp, ws.DH, a.Gate, a.Up, n * inter);
            var ln2 = a.Ln2.AsSpan(0, n * c);
            Linear.Backward(ws.DLn.AsSpan(0, n * c), false, Grad(w.Gate), default, ws.DGate.AsSpan(0, n * inter), ln2, w.Gate.Data, n, c, inter);
            Linear.Backward(ws.DLn.AsSpan(0, n * c), true, Grad(w.Up), default, ws.DUp.AsSpan(0, n * inter), ln2, w.Up.Data, n, c, inter);
            RmsNorm.Backward(dResid, GradOrNull(w.PostNorm), ws.DLn, a.Mid, w.PostNorm.Data, a.Ln2Rstd, n, c, ws.NormScratch);

            // Attention block.
            Linear.Backward(ws.DAtt.AsSpan(0, n * qd), false, Grad(w.O), Grad(w.OBias), dResid.AsSpan(0, n * c), a.Att.AsSpan(0, n * qd),
                w.O.Data, n, qd, c);
            Attention.Backward(ws.DQ, ws.DK, ws.DV, ws.DAtt, a.Q, a.K, a.V, a.Att, a.Lse, batch, t, cfg.NumAttentionHeads,
                cfg.NumKeyValueHeads, cfg.HeadDim, null, ws.AttentionScratch(batch, t, t), _trainingEnds);
            _rope.Apply(ws.DQ, ws.Positions, n, cfg.NumAttentionHeads, inverse: true);
            _rope.Apply(ws.DK, ws.Positions, n, cfg.NumKeyValueHeads, inverse: true);
            float[] dq = ws.DQ, dk = ws.DK;
            if (cfg.QkNorm)
            {
                dq = ws.DQRaw; dk = ws.DKRaw;
                dq.AsSpan(0, n * qd).Clear();
                dk.AsSpan(0, n * kvd).Clear();
                RmsNorm.Backward(dq, GradOrNull(w.QNorm!), ws.DQ, a.QRaw, w.QNorm!.Data, a.QRstd, n * cfg.NumAttentionHeads, cfg.HeadDim, ws.NormScratch);
                RmsNorm.Backward(dk, GradOrNull(w.KNorm!), ws.DK, a.KRaw, w.KNorm!.Data, a.KRstd, n * cfg.NumKeyValueHeads, cfg.HeadDim, ws.NormScratch);
            }
            var ln1 = a.Ln1.AsSpan(0, n * c);
            Linear.Backward(ws.DLn.AsSpan(0, n * c), false, Grad(w.Q), Grad(w.QBias), dq.AsSpan(0, n * qd), ln1, w.Q.Data, n, c, qd);
            Linear.Backward(ws.DLn.AsSpan(0, n * c), true, Grad(w.K), Grad(w.KBias), dk.AsSpan(0, n * kvd), ln1, w.K.Data, n, c, kvd);
            Linear.Backward(ws.DLn.AsSpan(0, n * c), true, Grad(w.V), Grad(w.VBias), ws.DV.AsSpan(0, n * kvd), ln1, w.V.Data, n, c, kvd);
            RmsNorm.Backward(dResid, GradOrNull(w.InputNorm), ws.DLn, a.Input, w.InputNorm.Data, a.Ln1Rstd, n, c, ws.NormScratch);
        }
        if (!Embed.Frozen) Embedding.Backward(Embed.Grad, dResid.AsSpan(0, n * c), ws.Tokens.AsSpan(0, n), c);
        ws.Kind = ForwardKind.None; // activations are still there, but a second backward would double-count
    }

    // ───────────────────────────── heads ─────────────────────────────

    // Which rows go through the LM head (all, or those marked in scored) and their targets.
    private static void SelectHeadRows(Workspace ws, int n, ReadOnlySpan<int> targets, ReadOnlySpan<bool> scored)
    {
        if (!scored.IsEmpty && scored.Length != n) throw new ArgumentException($"scored must have {n} = B·T entries (or none).");
        int m = 0;
        for (int r = 0; r < n; r++)
            if (scored.IsEmpty || scored[r]) { ws.HeadRowIndex[m] = r; ws.HeadTargets[m] = targets[r]; m++; }
        ws.HeadCount = m;
        ws.HeadAllRows = m == n;
    }

    // Rows [r0, r0 + rows) of the head's input: a slice of LnF when every row is scored, else gathered into HeadIn.
    private ReadOnlySpan<float> HeadInput(Workspace ws, int r0, int rows)
    {
        int c = Config.HiddenSize;
        if (ws.HeadAllRows)
            return ws.LnF.AsSpan(r0 * c, rows * c);
        for (int r = 0; r < rows; r++) ws.LnF.AsSpan(ws.HeadRowIndex[r0 + r] * c, c).CopyTo(ws.HeadIn.AsSpan(r * c, c));
        return ws.HeadIn.AsSpan(0, rows * c);
    }

    // logProbs for the selected rows, chunk by chunk (0 elsewhere); keeps the logits when one chunk covers them all.
    private void LanguageHeadForward(Workspace ws, int n, Span<float> logProbs, Span<float> entropy)
    {
        int c = Config.HiddenSize, v = Config.VocabSize, m = ws.HeadCount;
        if (!entropy.IsEmpty && entropy.Length != n) throw new ArgumentException($"entropy must have {n} = B·T entries (or none).");
        for (int r0 = 0; r0 < m; r0 += ws.HeadRows)
        {
            int rows = Math.Min(ws.HeadRows, m - r0);
            Project(ws.Logits.AsSpan(0, rows * v), HeadInput(ws, r0, rows), LmHead!, default, rows, c, v);
            TokenLogProbs.Forward(ws.Logits, ws.HeadTargets.AsSpan(r0, rows), ws.HeadLogProbs.AsSpan(r0, rows), ws.HeadLse.AsMemory(r0, rows), rows, v);
            if (!entropy.IsEmpty)
            {
                TokenLogProbs.Entropy(ws.Logits, ws.HeadLse.AsMemory(r0, rows), ws.HeadEntropy.AsMemory(r0, rows), rows, v);
            }
        }
        if (m < n) logProbs.Clear();
        for (int r = 0; r < m; r++) logProbs[ws.HeadRowIndex[r]] = ws.HeadLogProbs[r];
        if (!entropy.IsEmpty)
        {
            if (m < n) entropy.Clear();
            for (int r = 0; r < m; r++) entropy[ws.HeadRowIndex[r]] = ws.HeadEntropy[r];
        }
        ws.LogitsCoverAllRows = m <= ws.HeadRows;
    }

    private void ValueHead(Workspace ws, int n, Span<float> values)
    {
        int c = Config.HiddenSize;
        float bias = ValueBias!.Data[0];
        for (int r = 0; r < n; r++) values[r] = Simd.Dot(ws.LnF.AsSpan(r * c, c), ValueWeight!.Data) + bias;
    }

    // ───────────────────────────── helpers ─────────────────────────────

    // A linear layer's forward, with W packed once per scope inside UsePackedWeights (same bits either way).
    private void Project(Span<float> output, ReadOnlySpan<float> input, Parameter weight, ReadOnlySpan<float> bias,
        int rows, int inFeatures, int outFeatures)
    {
        if (_packedWeights is { } cache)
            Linear.Forward(output, input, cache.For(weight, outFeatures, inFeatures), bias, rows);
        else
            Linear.Forward(output, input, weight.Data, bias, rows, inFeatures, outFeatures);
    }

    private static ReadOnlySpan<float> Bias(Parameter? p) => p is null ? default : p.Data;
    private static Span<float> Grad(Parameter? p) => p is null || p.Frozen ? default : p.Grad;
    private static float[]? GradOrNull(Parameter p) => p.Frozen ? null : p.Grad;

    private static void SetTrainingPositions(Workspace ws, int batch, int seqLen)
    {
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seqLen; t++) ws.Positions[b * seqLen + t] = t;
    }

    private int CheckShape(ReadOnlySpan<int> tokens, int batch, int seqLen)
    {
        if (batch <= 0 || seqLen <= 0) throw new ArgumentException($"batch ({batch}) and seqLen ({seqLen}) must be positive.");
        if (tokens.Length != batch * seqLen) throw new ArgumentException($"tokens has {tokens.Length} entries, expected B·T = {batch}·{seqLen}.");
        return batch * seqLen;
    }

    private void RequireHead(ModelHead head)
    {
        if (Head != head) throw new InvalidOperationException($"This is a {Head} model; the call needs a {head} model.");
    }

    private Workspace RequireTrainingPass(ForwardKind kind)
    {
        if (_training is not { } ws || ws.Kind != kind)
            throw new InvalidOperationException($"Backward needs a preceding Forward{(kind == ForwardKind.LogProbs ? "LogProbs" : "Values")} (and at most one backward per forward).");
        return ws;
    }
}
