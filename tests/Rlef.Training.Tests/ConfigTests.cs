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
    public void Defaults_are_the_papers_values()
    {
        var c = new RlefConfig();
        Assert.Equal(0.05, c.Reward.KlCoefficient);
        Assert.Equal(1.0, c.Reward.Gamma);
        Assert.Equal(-0.2, c.Reward.InvalidCode);
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
    }

    [Fact]
    public void Missing_file_and_unknown_extension_are_reported()
    {
        Assert.Contains("not found", Assert.Throws<ConfigException>(() => ConfigLoader.Load(Path.Combine(_dir, "none.yaml"))).Message);
        string toml = Write("run.toml", "x = 1");
        Assert.Contains("unknown extension", Assert.Throws<ConfigException>(() => ConfigLoader.Load(toml)).Message);
    }
}
