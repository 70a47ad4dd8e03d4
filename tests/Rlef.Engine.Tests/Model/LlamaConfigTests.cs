using Rlef.Engine.Model;

namespace Rlef.Engine.Tests.Model;

// config.json files as the Hugging Face hub publishes them (field values of the real models).
public class LlamaConfigTests
{
    private const string Llama31_8B = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":128000,
         "eos_token_id":[128001,128008,128009],"hidden_act":"silu","hidden_size":4096,"initializer_range":0.02,
         "intermediate_size":14336,"max_position_embeddings":131072,"mlp_bias":false,"model_type":"llama",
         "num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"pretraining_tp":1,"rms_norm_eps":1e-05,
         "rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},
         "rope_theta":500000.0,"tie_word_embeddings":false,"torch_dtype":"bfloat16","use_cache":true,"vocab_size":128256}
        """;

    private const string Qwen25_05B = """
        {"architectures":["Qwen2ForCausalLM"],"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151645,
         "hidden_act":"silu","hidden_size":896,"initializer_range":0.02,"intermediate_size":4864,"max_position_embeddings":32768,
         "max_window_layers":21,"model_type":"qwen2","num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,
         "rms_norm_eps":1e-06,"rope_theta":1000000.0,"sliding_window":32768,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
         "use_cache":true,"use_sliding_window":false,"vocab_size":151936}
        """;

    private const string SmolLM2_135M = """
        {"architectures":["LlamaForCausalLM"],"attention_bias":false,"bos_token_id":0,"eos_token_id":0,"hidden_act":"silu",
         "hidden_size":576,"intermediate_size":1536,"max_position_embeddings":8192,"model_type":"llama","num_attention_heads":9,
         "num_hidden_layers":30,"num_key_value_heads":3,"rms_norm_eps":1e-05,"rope_scaling":null,"rope_theta":100000,
         "tie_word_embeddings":true,"vocab_size":49152}
        """;

    private const string Qwen3_06B = """
        {"architectures":["Qwen3ForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":151643,
         "eos_token_id":151645,"head_dim":128,"hidden_act":"silu","hidden_size":1024,"initializer_range":0.02,
         "intermediate_size":3072,"max_position_embeddings":40960,"max_window_layers":28,"model_type":"qwen3",
         "num_attention_heads":16,"num_hidden_layers":28,"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_scaling":null,
         "rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":true,"torch_dtype":"bfloat16",
         "use_cache":true,"use_sliding_window":false,"vocab_size":151936}
        """;

    [Fact]
    public void Parses_qwen3_with_per_head_qk_norm_and_explicit_head_dim()
    {
        var c = LlamaConfig.Parse(Qwen3_06B);
        Assert.True(c.QkNorm);
        Assert.False(c.QkvBias || c.OutputBias);
        Assert.Equal(128, c.HeadDim);
        Assert.Equal(2048, c.QDim); // ≠ hidden_size 1024
        Assert.Equal(c with { EosTokenIds = [] }, LlamaConfig.Parse(c.ToJson()) with { EosTokenIds = [] });
        var model = Rlef.Engine.Model.LlamaModel.CreateEmpty(LlamaConfig.Create(50, 16, 1, 2, 1, 32, qkNorm: true));
        Assert.Contains(model.Parameters, p => p.Name == "model.layers.0.self_attn.q_norm.weight" && p.Shape.SequenceEqual([8]));
        Assert.Contains(model.Parameters, p => p.Name == "model.layers.0.self_attn.k_norm.weight");
    }

    [Fact]
    public void Parses_llama_3_1_with_llama3_rope_scaling()
    {
        var c = LlamaConfig.Parse(Llama31_8B);
        Assert.Equal((4096, 14336, 32, 32, 8, 128, 128256), (c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads,
            c.NumKeyValueHeads, c.HeadDim, c.VocabSize));
        Assert.Equal(500000, c.RopeTheta);
        Assert.Equal(1e-5f, c.RmsNormEps);
        Assert.Equal(new RopeScalingView("llama3", 8, 1, 4, 8192), RopeScalingView.Of(c));
        Assert.False(c.QkvBias || c.OutputBias || c.TieWordEmbeddings);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
    }

    [Fact]
    public void Parses_qwen2_with_qkv_bias_and_tied_embeddings()
    {
        var c = LlamaConfig.Parse(Qwen25_05B);
        Assert.True(c.QkvBias);
        Assert.False(c.OutputBias);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(2, c.NumKeyValueHeads);
        Assert.Equal(1e6, c.RopeTheta);
        Assert.Equal([151645], c.EosTokenIds);
    }

    [Fact]
    public void Parses_smollm_and_round_trips_through_to_json()
    {
        var c = LlamaConfig.Parse(SmolLM2_135M);
        Assert.Equal(64, c.HeadDim);
        Assert.Null(c.RopeScaling);
        Assert.True(c.TieWordEmbeddings);
        var again = LlamaConfig.Parse(c.ToJson());
        Assert.Equal(c with { EosTokenIds = [] }, again with { EosTokenIds = [] });
        Assert.Equal(c.EosTokenIds, again.EosTokenIds);
        var llama = LlamaConfig.Parse(Llama31_8B);
        Assert.Equal(RopeScalingView.Of(llama), RopeScalingView.Of(LlamaConfig.Parse(llama.ToJson())));
        var qwen = LlamaConfig.Parse(Qwen25_05B);
        Assert.Equal((qwen.QkvBias, qwen.OutputBias), (LlamaConfig.Parse(qwen.ToJson()).QkvBias, LlamaConfig.Parse(qwen.ToJson()).OutputBias));
    }

    [Fact]
    public void Explicit_head_dim_wins_over_hidden_over_heads()
    {
        var c = LlamaConfig.Parse(SmolLM2_135M.Replace("\"hidden_act\"", "\"head_dim\": 32, \"hidden_act\""));
        Assert.Equal(32, c.HeadDim);
        Assert.Equal(9 * 32, c.QDim);
    }

    [Theory]
    [InlineData("\"hidden_size\":576,", "", "hidden_size")]                                   // missing required field
    [InlineData("\"num_key_value_heads\":3", "\"num_key_value_heads\":4", "num_key_value_heads")] // 9 heads not divisible by 4
    [InlineData("\"hidden_size\":576", "\"hidden_size\":\"big\"", "hidden_size")]              // wrong type
    [InlineData("\"rope_scaling\":null", "\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}", "rope_scaling")]
    [InlineData("\"model_type\":\"llama\"", "\"model_type\":\"gpt2\"", "model_type")]
    [InlineData("\"hidden_act\":\"silu\"", "\"hidden_act\":\"gelu\"", "hidden_act")]
    public void Bad_configs_fail_with_the_file_and_field_named(string from, string to, string field)
    {
        var json = SmolLM2_135M.Replace(from, to);
        Assert.NotEqual(SmolLM2_135M, json);
        var e = Assert.ThrowsAny<Exception>(() => LlamaConfig.Parse(json, "models/x/config.json"));
        Assert.True(e is FormatException or NotSupportedException, e.GetType().Name);
        Assert.Contains("models/x/config.json", e.Message);
        Assert.Contains(field, e.Message);
    }

    private sealed record RopeScalingView(string Type, double Factor, double Low, double High, int Original)
    {
        public static RopeScalingView? Of(LlamaConfig c) => c.RopeScaling is { } s
            ? new RopeScalingView(s.Type, s.Factor, s.LowFreqFactor, s.HighFreqFactor, s.OriginalMaxPositionEmbeddings) : null;
    }
}
