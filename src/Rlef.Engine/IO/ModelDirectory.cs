using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;

namespace Rlef.Engine.IO;

/// <summary>A model with the chat format its episodes are written in.</summary>
public sealed record ChatModel(LlamaModel Model, IChatFormat Format);

/// <summary>
/// A Hugging Face model directory: config.json, *.safetensors, and a tokenizer (tokenizer.json with a
/// tokenizer_config.json holding a chat template). The one place that checks such a directory: `rlef train`,
/// `rlef eval --policy model:DIR` and the miniature all load models through it.
/// </summary>
public static class ModelDirectory
{
    /// <summary>
    /// The model of <paramref name="directory"/> with the chat format of its tokenizer, or of
    /// <paramref name="tokenizerSpec"/> when given (see <see cref="TokenizerLoader.Load"/>).
    /// </summary>
    public static ChatModel Load(string directory, string? tokenizerSpec = null)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model directory '{directory}' does not exist");
        string configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"model directory '{directory}' has no config.json", configPath);
        string spec = tokenizerSpec ?? directory;
        LoadedTokenizer tokenizer = TokenizerLoader.Load(spec);
        IChatFormat format = tokenizer.ChatFormat
            ?? throw new InvalidDataException($"tokenizer '{spec}': no chat template (tokenizer_config.json with chat_template beside tokenizer.json; RLEF episodes are chats)");
        LlamaConfig llama = LlamaConfig.Load(configPath);
        LlamaModel model = LlamaModel.CreateEmpty(llama);
        HfWeights.Load(directory, model.Parameters, allowMissingLmHead: llama.TieWordEmbeddings);
        if (model.Config.VocabSize < tokenizer.Tokenizer.VocabSize)
            throw new InvalidDataException($"{directory}: the tokenizer '{spec}' has {tokenizer.Tokenizer.VocabSize} ids but the model's vocabulary is {model.Config.VocabSize}");
        return new ChatModel(model, format);
    }
}
