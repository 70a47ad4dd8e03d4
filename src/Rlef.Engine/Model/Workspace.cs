namespace Rlef.Engine.Model;

// Activation buffers of one decoder layer for N = B·T token rows. Shapes in comments use
// C = hidden, QD = heads·head_dim, KVD = kv_heads·head_dim, I = intermediate, H = heads.
internal sealed class LayerActivations
{
    public LayerActivations(LlamaConfig c, int rows)
    {
        Input = new float[rows * c.HiddenSize];
        Ln1 = new float[rows * c.HiddenSize];
        Ln1Rstd = new float[rows];
        Q = new float[rows * c.QDim];
        K = new float[rows * c.KvDim];
        V = new float[rows * c.KvDim];
        Att = new float[rows * c.QDim];
        Lse = new float[rows * c.NumAttentionHeads];
        Mid = new float[rows * c.HiddenSize];
        Ln2 = new float[rows * c.HiddenSize];
        Ln2Rstd = new float[rows];
        Gate = new float[rows * c.IntermediateSize];
        Up = new float[rows * c.IntermediateSize];
        H = new float[rows * c.IntermediateSize];
        if (c.QkNorm)
        {
            QRaw = new float[rows * c.QDim];
            KRaw = new float[rows * c.KvDim];
            QRstd = new float[rows * c.NumAttentionHeads];
            KRstd = new float[rows * c.NumKeyValueHeads];
        }
    }

    // Inference: one set of buffers serves every layer; the residual stream is updated in place.
    private LayerActivations(LayerActivations a)
    {
        Input = a.Input; Mid = a.Input;
        Ln1 = a.Ln1; Ln1Rstd = a.Ln1Rstd; Q = a.Q; K = a.K; V = a.V; Att = a.Att; Lse = a.Lse;
        Ln2 = a.Ln2; Ln2Rstd = a.Ln2Rstd; Gate = a.Gate; Up = a.Up; H = a.H;
        QRaw = a.QRaw; KRaw = a.KRaw; QRstd = a.QRstd; KRstd = a.KRstd;
    }

    public static LayerActivations SharedInPlace(LayerActivations a) => new(a);

    /// <summary>Floats held (Mid counted once where it is Input).</summary>
    public long Floats => (long)Input.Length + (Mid == Input ? 0 : Mid.Length) + Ln1.Length + Ln1Rstd.Length + Q.Length + K.Length + V.Length
        + Att.Length + Lse.Length + Ln2.Length + Ln2Rstd.Length + Gate.Length + Up.Length + H.Length + QRaw.Length + KRaw.Length + QRstd.Length + KRstd.Length;

    public readonly float[] Input;          // [N,C] residual stream entering the layer
    public readonly float[] Ln1, Ln1Rstd;   // [N,C], [N]
    public readonly float[] Q;              // [N,QD] after RoPE
    public readonly float[] K, V;           // [N,KVD], K after RoPE
    public readonly float[] Att;            // [N,QD] attention output before o_proj
    public readonly float[] Lse;            // [B,H,T] log-sum-exp of each score row
    public readonly float[] Mid;            // [N,C] residual stream after attention
    public readonly float[] Ln2, Ln2Rstd;   // [N,C], [N]
    public readonly float[] Gate, Up, H;    // [N,I]; H = silu(Gate)·Up
    // Qwen3 only: projections before the per-head RMSNorm, and its 1/rms per (row, head).
    public readonly float[] QRaw = [], KRaw = [], QRstd = [], KRstd = []; // [N,QD], [N,KVD], [N,H], [N,KVH]
}

// Everything a forward (and, for training, a backward) pass over at most Rows tokens (batch × seq) needs, allocated
// once. Training keeps one LayerActivations per layer for the backward; inference shares one set across layers.
// Only the attention scratch depends on the batch and sequence shape (not just their product); it is grown on its
// own, so a pass of the same token count in another shape (33 × 496 after 15 × 1052) reuses every other buffer.
internal sealed class Workspace
{
    /// <param name="rows">Tokens per pass (batch × seq): the per-token buffers hold this many rows.</param>
    public Workspace(LlamaConfig c, int rows, bool training, int headRows)
    {
        if (rows <= 0) throw new ArgumentOutOfRangeException(nameof(rows), "rows must be positive.");
        _config = c;
        Training = training;
        Rows = rows;
        Tokens = new int[rows];
        Positions = new int[rows];
        var first = new LayerActivations(c, rows);
        Layers = new LayerActivations[c.NumHiddenLayers];
        if (training)
        {
            Layers[0] = first;
            for (int l = 1; l < Layers.Length; l++) Layers[l] = new LayerActivations(c, rows);
        }
        else
        {
            var shared = LayerActivations.SharedInPlace(first);
            for (int l = 0; l < Layers.Length; l++) Layers[l] = shared;
        }
        Final = training ? new float[rows * c.HiddenSize] : first.Input;
        LnF = new float[rows * c.HiddenSize];
        LnFRstd = new float[rows];
        Proj = new float[rows * c.HiddenSize];
        HeadRows = Math.Max(1, Math.Min(headRows, rows));
        if ((long)HeadRows * c.VocabSize > Array.MaxLength) throw new OutOfMemoryException("The logits buffer would exceed the largest array.");
        Logits = new float[HeadRows * c.VocabSize];
        HeadLse = new float[rows];
        HeadIn = new float[HeadRows * c.HiddenSize];
        HeadRowIndex = new int[rows];
        HeadTargets = new int[rows];
        HeadLogProbs = new float[rows];
        HeadEntropy = new float[rows];
        if (training)
        {
            DResid = new float[rows * c.HiddenSize];
            DLn = new float[rows * c.HiddenSize];
            NormScratch = new float[rows * Math.Max(c.HiddenSize, c.QDim)];
            if (c.QkNorm) { DQRaw = new float[rows * c.QDim]; DKRaw = new float[rows * c.KvDim]; }
            DQ = new float[rows * c.QDim];
            DK = new float[rows * c.KvDim];
            DV = new float[rows * c.KvDim];
            DAtt = new float[rows * c.QDim];
            DGate = new float[rows * c.IntermediateSize];
            DUp = new float[rows * c.IntermediateSize];
            DH = DUp; // SwiGlu.Backward reads each dH element before it writes dUp there
            DHead = new float[rows];
            HeadDIn = new float[HeadRows * c.HiddenSize];
        }
    }

    private readonly LlamaConfig _config;
    public readonly int Rows, HeadRows;
    public readonly bool Training;
    public readonly int[] Tokens, Positions;         // [N], [N]
    public readonly LayerActivations[] Layers;
    public readonly float[] Final;                   // [N,C] residual stream after the last layer
    public readonly float[] LnF, LnFRstd;            // [N,C], [N]
    public readonly float[] Proj;                    // [N,C] o_proj / down_proj output before the residual add
    private float[] _attentionScratch = [];         // score rows, transposed K/V blocks (Attention.ScratchSize)
    public readonly float[] Logits;                  // [HeadRows,V] one chunk of logits (the whole batch when it fits)
    public readonly float[] HeadLse;                 // [M] log-sum-exp of each head row
    public readonly float[] HeadIn;                  // [HeadRows,C] rows gathered for the head
    public readonly int[] HeadRowIndex;              // [M] which of the N rows go through the LM head
    public readonly int[] HeadTargets;               // [M] their targets
    public readonly float[] HeadLogProbs;            // [M] their log-probs (then ∂L/∂logp in the backward)
    public readonly float[] HeadEntropy;             // [M] entropy of each head row's distribution (when asked)
    public int HeadCount;                            // M
    public bool HeadAllRows;                         // M = N: the head reads LnF directly

    // Training only: gradients of activations, reused layer after layer.
    public readonly float[] DResid = [], DLn = [], NormScratch = [], DQ = [], DK = [], DV = [], DAtt = [], DGate = [], DUp = [], DH = [];
    public readonly float[] DQRaw = [], DKRaw = [];  // Qwen3: gradients before the per-head RMSNorm
    public readonly float[] DHead = [];              // [N] ∂L/∂logp (LM) or ∂L/∂value (value head)
    public readonly float[] HeadDIn = [];            // [HeadRows,C] gradient of the gathered head rows

    // What the last training forward was, so that Backward can check it pairs with it.
    public int Batch, Seq;
    public ForwardKind Kind;
    /// <summary>True when the last forward's logits for all rows are still in <see cref="Logits"/>.</summary>
    public bool LogitsCoverAllRows;

    public bool Fits(int batch, int seq) => (long)batch * seq <= Rows;

    /// <summary>Attention's scratch for a pass of this shape (keys = past + Tq, or the cache capacity), grown when too small.</summary>
    public float[] AttentionScratch(int batch, int tq, int keys)
    {
        int size = Rlef.Engine.Layers.Attention.ScratchSize(batch, tq, keys, _config.NumAttentionHeads, _config.NumKeyValueHeads, _config.HeadDim);
        if (_attentionScratch.Length < size) { _attentionScratch = []; _attentionScratch = new float[size]; }
        return _attentionScratch;
    }

    /// <summary>Bytes held by this workspace's buffers (what <see cref="LlamaModel.BufferBytes"/> reports).</summary>
    public long Bytes
    {
        get
        {
            long floats = _attentionScratch.Length + Final.Length + LnF.Length + LnFRstd.Length + Proj.Length + Logits.Length + HeadLse.Length
                + HeadIn.Length + HeadLogProbs.Length + HeadEntropy.Length + DResid.Length + DLn.Length + NormScratch.Length + DQ.Length
                + DK.Length + DV.Length + DAtt.Length + DGate.Length + DUp.Length + DQRaw.Length + DKRaw.Length + DHead.Length
                + HeadDIn.Length;
            if (!Training) floats -= Final.Length; // inference: Final is layer 0's Input
            foreach (var a in Training ? Layers : Layers.Take(1)) floats += a.Floats;
            return 4 * floats + 4L * (Tokens.Length + Positions.Length + HeadRowIndex.Length + HeadTargets.Length);
        }
    }
}

internal enum ForwardKind { None, LogProbs, Values }
