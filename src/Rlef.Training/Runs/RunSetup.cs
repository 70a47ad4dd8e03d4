using Rlef.Engine.IO;
using Rlef.Engine.Model;
using Rlef.Engine.Tokenizers;
using Rlef.Environment.Problems;
using Rlef.Training.Config;

namespace Rlef.Training.Runs;

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
        {
            (LlamaModel model, IChatFormat format) = ModelDirectory.Load(m.Directory, m.Tokenizer.Length > 0 ? m.Tokenizer : null);
            policy = new InitialPolicy(model, format);
        }
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
