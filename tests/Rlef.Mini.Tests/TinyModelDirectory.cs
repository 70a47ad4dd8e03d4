using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Tests;

namespace Rlef.Mini.Tests;

/// <summary>
/// A Hugging Face model directory small enough for tests: a random 1-layer Llama over the tiny Qwen3 BPE fixture
/// with a ChatML chat template. It writes no code, so every turn is invalid: enough to drive every code path.
/// </summary>
public static class TinyModelDirectory
{
    const string ChatMl = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
                          "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    public static string Create(string directory, int seed = 3)
    {
        Directory.CreateDirectory(directory);
        File.Copy(Path.Combine(RepoPaths.Root, "tests", "fixtures", "tokenizers", "tiny-qwen3", "tokenizer.json"), Path.Combine(directory, "tokenizer.json"));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"),
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["chat_template"] = ChatMl, ["eos_token"] = "<|im_end|>" }));
        int vocab = TokenizerLoader.Load(directory).Tokenizer.VocabSize;
        LlamaModel.CreateRandom(LlamaConfig.Create(vocab, hiddenSize: 32, layers: 1, heads: 2, kvHeads: 2, intermediateSize: 64, maxPositions: 4096), seed)
            .Save(directory);
        return directory;
    }
}
