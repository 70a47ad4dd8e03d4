using Rlef.Training.Config;

namespace Rlef.Training.Tests;

public sealed class ConfigTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Training_problems_need_public_and_private_tests_as_the_paper_unless_switched_off()
    {
        string both = """{"name": "both", "description": "d", "public_tests": {"input": ["1\n"], "output": ["1\n"]}, "private_tests": {"input": ["2\n"], "output": ["2\n"]}}""";
        string publicOnly = """{"name": "public-only", "description": "d", "public_tests": {"input": ["1\n"], "output": ["1\n"]}}""";
        string generatedOnly = """{"name": "generated", "description": "d", "public_tests": {"input": ["1\n"], "output": ["1\n"]}, "generated_tests": {"input": ["3\n"], "output": ["3\n"]}}""";
        string path = Write("train.jsonl", string.Join("\n", both, publicOnly, generatedOnly) + "\n");
        var config = new RlefConfig { Data = new DataConfig { Train = path } };
        Assert.Equal(["both", "generated"], Rlef.Training.Runs.RunSetup.TrainProblems(config).Select(p => p.Id));
        Assert.Equal(["both", "public-only", "generated"],
            Rlef.Training.Runs.RunSetup.TrainProblems(config with { Data = config.Data with { RequirePublicAndPrivateTests = false } }).Select(p => p.Id));

        string onlyPublic = Write("public.jsonl", publicOnly + "\n");
        var e = Assert.Throws<InvalidDataException>(() => Rlef.Training.Runs.RunSetup.TrainProblems(new RlefConfig { Data = new DataConfig { Train = onlyPublic } }));
        Assert.Contains("require_public_and_private_tests", e.Message);
        Assert.Contains(new RlefConfig { Data = new DataConfig { ValidRollouts = 0 } }.Validate(), m => m.StartsWith("data.valid_rollouts", StringComparison.Ordinal));
    }

    [Fact]
    public void Defaults_are_the_papers_values()
    {
        var c = new RlefConfig();
        Assert.Equal(0.05, c.Reward.KlCoefficient);
        Assert.Equal(1.0, c.Reward.Gamma);
        Assert.Equal(-0.2, c.Reward.InvalidCode);
        Assert.True(c.Reward.SyntaxErrorIsInvalidCode);
        Assert.True(c.Data.RequirePublicAndPrivateTests);
        Assert.Equal(TruncationPlacement.InsideRatio, c.Ppo.Truncation);
        Assert.Equal(0.2, c.Ppo.ClipEpsilon);
        Assert.Equal(0.2, c.Ppo.ValueClip);
        Assert.Equal(2e-7, c.Optimizer.LearningRate);
        Assert.Equal(0.1, c.Optimizer.WeightDecay);
        Assert.Equal(50, c.Optimizer.WarmupSteps);
        Assert.Equal(1024, c.Rollout.RolloutsPerIteration);
        Assert.Equal(4, c.Rollout.UpdatesPerIteration);  // 1024 → 4 minibatches of 256
        Assert.Equal(3, c.Rollout.TurnLimit);
        Assert.Equal(1.0, c.Rollout.Temperature);
        Assert.Equal(1.0, c.Rollout.TopP);
        Assert.Equal(ValueLevel.Turn, c.Ablation.ValueFunction);
        Assert.Equal(SftTarget.LastSuccessfulReply, c.Sft.LossOn);
        Assert.Equal(12_000, c.Schedule.TotalUpdates);
        Assert.Equal(800, c.Schedule.EvalEvery);
        Assert.Empty(c.Validate());
    }

    [Fact]
    public void Yaml_file_and_command_line_overrides_are_applied_in_order()
    {
        string path = Write("run.yaml", """
            # a small run
            reward:
              kl_coefficient: 0.1
            ppo:
              clip_epsilon: 0.3
            ablation:
              value_function: token
            sft:
              loss_on: all_replies
            schedule:
              seed: 18446744073709551615
            """);
        RlefConfig c = ConfigLoader.Load(path, ["ppo.clip_epsilon=0.25", "rollout.rollouts_per_iteration=64", "ablation.no_execution_feedback=true"]);
        Assert.Equal(0.1, c.Reward.KlCoefficient);
        Assert.Equal(0.25, c.Ppo.ClipEpsilon);
        Assert.Equal(64, c.Rollout.RolloutsPerIteration);
        Assert.Equal(4, c.Rollout.UpdatesPerIteration);
        Assert.True(c.Ablation.NoExecutionFeedback);
        Assert.Equal(ValueLevel.Token, c.Ablation.ValueFunction);
        Assert.Equal(SftTarget.AllReplies, c.Sft.LossOn);
        Assert.Equal(ulong.MaxValue, c.Schedule.Seed);
        Assert.Equal(0.2, c.Ppo.ValueClip); // untouched keys keep the paper's defaults
    }

    [Fact]
    public void Effective_config_round_trips_through_json()
    {
        var config = new RlefConfig
        {
            Ppo = new PpoConfig { ClipEpsilon = 0.1 },
            Ablation = new AblationConfig { SingleTurn = true, ValueFunction = ValueLevel.Token },
        };
        string path = Path.Combine(_dir, "config.json");
        ConfigLoader.WriteEffective(config, path);
        Assert.Contains("\"clip_epsilon\": 0.1", File.ReadAllText(path));
        Assert.Contains("\"value_function\": \"token\"", File.ReadAllText(path));
        Assert.Equal(config, ConfigLoader.Load(path));
    }

    [Fact]
    public void Remote_sandboxes_are_a_config_key_and_a_bad_url_is_named()
    {
        string path = Write("remote.yaml", "sandbox:\n  urls: http://10.0.0.5:8090,http://10.0.0.6:8090\n");
        Assert.Equal("http://10.0.0.5:8090,http://10.0.0.6:8090", ConfigLoader.Load(path).Sandbox.Urls);
        Assert.Equal("", ConfigLoader.Load(null).Sandbox.Urls);  // default: the in-process pool
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path, ["sandbox.urls=ftp://x"]));
        Assert.Contains("sandbox.urls", e.Message);
        Assert.Contains("ftp://x", e.Message);
    }

    [Fact]
    public void Unknown_yaml_key_names_the_key_the_file_and_the_line()
    {
        string path = Write("typo.yaml", "ppo:\n  clip_epsilon: 0.2\n  clip_epsilom: 0.3\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("'ppo.clip_epsilom'", e.Message);
        Assert.Contains("typo.yaml line 3", e.Message);
        Assert.Contains("clip_epsilon", e.Message); // lists the known keys
    }

    [Fact]
    public void Unknown_json_key_and_unknown_override_are_errors()
    {
        string path = Write("bad.json", """{ "rollout": { "turns": 2 } }""");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("'rollout.turns'", e.Message);
        Assert.Contains("bad.json", e.Message);

        var o = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["optimiser.learning_rate=1e-6"]));
        Assert.Contains("'optimiser'", o.Message);
        Assert.Contains("command-line override", o.Message);

        Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["ppo.clip_epsilon"])); // no '='
    }

    [Fact]
    public void Wrong_types_and_invalid_values_name_the_key()
    {
        string path = Write("types.yaml", "rollout:\n  turn_limit: three\n");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        Assert.Contains("rollout.turn_limit", e.Message);

        var section = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["ppo=1"]));
        Assert.Contains("'ppo'", section.Message);

        var enumError = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["ablation.value_function=sequence"]));
        Assert.Contains("ablation.value_function", enumError.Message);

        var invalid = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["rollout.rollouts_per_iteration=1000", "rollout.updates_per_iteration=3"]));
        Assert.Contains("rollout.rollouts_per_iteration (1000) must be divisible by rollout.updates_per_iteration (3)", invalid.Message);

        var exclusive = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["ablation.single_turn=true", "ablation.no_execution_feedback=true"]));
        Assert.Contains("exclude each other", exclusive.Message);

        // A key with no value reads as null: refused by name, in a file and on the command line.
        var empty = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["data.valid="]));
        Assert.Contains("'data.valid'", empty.Message);
        Assert.Contains("has no value", Assert.Throws<ConfigException>(() => ConfigLoader.Load(Write("empty.yaml", "model:\n  tokenizer:\n"))).Message);
        Assert.Null(ConfigLoader.Load(null, ["optimizer.value_learning_rate=null"]).Optimizer.ValueLearningRate); // nullable settings may be null
    }

    [Fact]
    public void Missing_file_and_unknown_extension_are_reported()
    {
        Assert.Contains("not found", Assert.Throws<ConfigException>(() => ConfigLoader.Load(Path.Combine(_dir, "none.yaml"))).Message);
        string toml = Write("run.toml", "x = 1");
        Assert.Contains("unknown extension", Assert.Throws<ConfigException>(() => ConfigLoader.Load(toml)).Message);
    }

    [Fact]
    public void A_training_service_needs_the_group_mean_baseline_and_a_tinker_url()
    {
        var noCritic = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null, ["learner.service=tinker:http://127.0.0.1:8200"]));
        Assert.Contains("ppo.baseline: group_mean", noCritic.Message);
        var badUrl = Assert.Throws<ConfigException>(() => ConfigLoader.Load(null,
            ["learner.service=tinker:ftp://x", "ppo.baseline=group_mean", "rollout.rollouts_per_problem=4"]));
        Assert.Contains("learner.service must be tinker:http(s)://HOST:PORT", badUrl.Message);
        RlefConfig ok = ConfigLoader.Load(null, ["learner.service=tinker:http://127.0.0.1:8200", "learner.base_model=Qwen/Qwen3-8B",
            "ppo.baseline=group_mean", "rollout.rollouts_per_problem=4"]);
        Assert.Equal(new Uri("http://127.0.0.1:8200"), ok.Learner.TinkerUrl);
        Assert.Equal("Qwen/Qwen3-8B", ok.Learner.BaseModel);
    }
}
