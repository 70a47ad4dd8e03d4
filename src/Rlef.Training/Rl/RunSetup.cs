using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Training.Config;

namespace Rlef.Training.Rl;

/// <summary>The initial policy of a run and its chat format, as the config's model section names them.</summary>
public sealed record InitialPolicy(LlamaModel Model, IChatFormat Format);

/// <summary>
/// Builds what a run needs from its config: the initial policy (a Hugging Face directory, or a from-scratch Llama of
/// the configured size with the byte tokenizer; then optionally other starting weights) and the problems. The same
/// config always yields the same initial policy, which is what makes it the reference policy of a resumed run too.
/// </summary>
public static class RunSetup
{
    public static InitialPolicy LoadPolicy(RlefConfig config)
    {
        ModelConfig m = config.Model;
        InitialPolicy policy;
        if (m.Directory.Length > 0)
            policy = LoadDirectory(m.Directory, m.Tokenizer.Length > 0 ? m.Tokenizer : null);
        else
        {
            string tokenizerSpec = m.Tokenizer.Length > 0 ? m.Tokenizer : "byte";
            LoadedTokenizer tokenizer = TokenizerLoader.Load(tokenizerSpec);
            IChatFormat format = tokenizer.ChatFormat
                ?? throw new InvalidDataException($"model.tokenizer '{tokenizerSpec}': no chat template found (RLEF episodes are chats)");
            var llama = LlamaConfig.Create(tokenizer.Tokenizer.VocabSize, m.HiddenSize, m.Layers, m.Heads, m.Heads, m.IntermediateSize, m.MaxPositions);
            policy = new InitialPolicy(LlamaModel.CreateRandom(llama, m.InitSeed), format);
        }
        if (m.InitWeights.Length > 0) ModelFiles.LoadWeights(m.InitWeights, policy.Model);
        return policy;
    }

    /// <summary>
    /// A Hugging Face model directory (config.json, *.safetensors) with the chat format of its tokenizer
    /// (tokenizer.json and a tokenizer_config.json with a chat template), or of <paramref name="tokenizerSpec"/> when
    /// given. The one place that checks such a directory: `rlef train`, `rlef eval --policy model:DIR` and the mini.
    /// </summary>
    public static InitialPolicy LoadDirectory(string directory, string? tokenizerSpec = null)
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
        return new InitialPolicy(model, format);
    }

    /// <summary>The training problems (data.train); only problems with tests can be rolled out.</summary>
    public static IReadOnlyList<Problem> TrainProblems(RlefConfig config) => Load(config.Data.Kind, config.Data.Train, "data.train");

    /// <summary>The validation problems (data.valid), or none when it is empty.</summary>
    public static IReadOnlyList<Problem> ValidProblems(RlefConfig config) =>
        config.Data.Valid.Length == 0 ? [] : Load(config.Data.Kind, config.Data.Valid, "data.valid");

    static IReadOnlyList<Problem> Load(string kind, string path, string key)
    {
        if (path.Length == 0) throw new ArgumentException($"{key} is not set: give the problems' JSONL path");
        if (!File.Exists(path)) throw new FileNotFoundException($"{key}: '{path}' does not exist", path);
        var problems = DatasetLoader.Load(ProblemFamilies.Parse(kind), path).Where(p => p.HasTests).ToList();
        if (problems.Count == 0) throw new InvalidDataException($"{key}: '{path}' has no problems with tests");
        return problems;
    }
}
