using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;

namespace Rlef.Evaluation.Tests;

public sealed class ReportWriterTests : IDisposable
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rlef-eval-report-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Budget_chart_draws_n_at_k_against_k_per_turn_limit()
    {
        var options = new EvaluationOptions { PassAtK = [1], NAtK = [new(10, 12), new(10, 24), new(10, 36)], TurnLimit = 3, TurnLimits = [1, 3], Temperature = 1.0 };
        ReportWriter.Write(_directory, EvaluationReport.Compute(Rollouts.Random(6, 40, 3, seed: 8), options));
        XDocument svg = XDocument.Load(Path.Combine(_directory, ReportWriter.BudgetChartFile));
        Assert.Equal(2, svg.Descendants(Svg + "polyline").Count()); // single-turn and multi-turn
        Assert.Equal(6, svg.Descendants(Svg + "circle").Count());
        Assert.Contains(ReportWriter.BudgetChartFile, File.ReadAllText(Path.Combine(_directory, ReportWriter.MarkdownFile)));

        ReportWriter.Write(_directory, EvaluationReport.Compute(Rollouts.Random(6, 40, 3, seed: 8), options with { NAtK = [new(1, 3)] }));
        Assert.False(File.Exists(Path.Combine(_directory, ReportWriter.BudgetChartFile)), "one budget is no curve; the old chart is removed");
    }

    [Fact]
    public void Summary_json_has_the_required_fields()
    {
        ReportWriter.Write(_directory, EvaluationReport.Compute(Rollouts.HandWorked(), Rollouts.HandWorkedOptions));
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_directory, ReportWriter.SummaryFile)));
        JsonElement root = doc.RootElement;

        Assert.Equal(0.375, root.GetProperty("solve_rate").GetDouble(), 6);
        Assert.Equal(2, root.GetProperty("solve_rate_ci").GetArrayLength());
        Assert.Equal(2, root.GetProperty("problems").GetInt32());
        Assert.Equal(8, root.GetProperty("rollouts").GetInt32());
        Assert.Equal(4, root.GetProperty("rollouts_per_problem").GetInt32());

        JsonElement options = root.GetProperty("options");
        Assert.Equal("unit", options.GetProperty("dataset").GetString());
        Assert.Equal("replay:test", options.GetProperty("policy").GetString());
        Assert.Equal(3, options.GetProperty("turn_limit").GetInt32());
        Assert.Equal(200, options.GetProperty("bootstrap_resamples").GetInt32());
        Assert.Equal("rollouts", options.GetProperty("bootstrap_requested").GetString());
        Assert.Equal("rollouts", root.GetProperty("bootstrap").GetString()); // the paper's (App. B.1), named
        Assert.Contains("App. B.1", root.GetProperty("confidence_interval").GetString());
        Assert.Equal([1, 3], options.GetProperty("turn_limits").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["1@3", "10@100"], options.GetProperty("n_at_k").EnumerateArray().Select(e => e.GetString()));

        JsonElement oneAtThree = root.GetProperty("metrics").EnumerateArray()
            .Single(m => m.GetProperty("name").GetString() == "1@3" && m.GetProperty("turn_limit").GetInt32() == 3);
        Assert.Equal("multi_turn", oneAtThree.GetProperty("setting").GetString());
        Assert.Equal(0.375, oneAtThree.GetProperty("value").GetDouble(), 6);
        double[] ci = oneAtThree.GetProperty("ci").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.InRange(0.375, ci[0], ci[1]);
        Assert.Contains(root.GetProperty("skipped").EnumerateArray(), s => s.GetProperty("name").GetString() == "10@100");

        Assert.Equal(3, root.GetProperty("solve_rate_by_turn_limit").GetArrayLength());
        JsonElement behaviour = root.GetProperty("behaviour");
        Assert.Equal(8, behaviour.GetProperty("outcomes_by_turn")[0].GetProperty("counts").EnumerateObject().Sum(p => p.Value.GetInt32()));
        Assert.NotEqual(0, behaviour.GetProperty("transitions").GetArrayLength());
        Assert.NotEqual(0, behaviour.GetProperty("recovery").GetArrayLength());
        Assert.NotEqual(0, behaviour.GetProperty("code_change").GetArrayLength());
    }

    [Fact]
    public void Charts_are_well_formed_svg_referenced_by_the_markdown()
    {
        ReportWriter.Write(_directory, EvaluationReport.Compute(Rollouts.Random(30, 10, 3, seed: 2), new EvaluationOptions { Dataset = "a|b" }));
        string markdown = File.ReadAllText(Path.Combine(_directory, ReportWriter.MarkdownFile));
        foreach (string chart in new[] { ReportWriter.SolveRateChartFile, ReportWriter.TransitionsChartFile })
        {
            Assert.Contains($"]({chart})", markdown);
            XDocument svg = XDocument.Load(Path.Combine(_directory, chart));
            Assert.Equal(Svg + "svg", svg.Root!.Name);
            AssertFiniteGeometry(svg);
        }

        XDocument rates = XDocument.Load(Path.Combine(_directory, ReportWriter.SolveRateChartFile));
        Assert.Equal(3, rates.Descendants(Svg + "rect").Count(r => r.Element(Svg + "title") != null)); // one bar per turn limit
        XDocument flows = XDocument.Load(Path.Combine(_directory, ReportWriter.TransitionsChartFile));
        Assert.Contains(flows.Descendants(Svg + "path"), p => p.Element(Svg + "title")?.Value.Contains('→') == true);
        Assert.Contains("a\\|b", markdown); // table cells escape pipes
    }

    [Fact]
    public void Single_turn_runs_and_undefined_values_still_give_valid_output()
    {
        // One turn, nothing solved: no transitions, no recovery, intervals of zero width.
        List<RolloutSummary> rollouts = [Rollouts.Of("a", false, TurnOutcome.WrongOutput), Rollouts.Of("b", false, TurnOutcome.Timeout)];
        EvaluationReport report = EvaluationReport.Compute(rollouts, new EvaluationOptions { TurnLimit = 1 });
        ReportWriter.Write(_directory, report);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_directory, ReportWriter.SummaryFile)));
        Assert.Equal(0.0, doc.RootElement.GetProperty("solve_rate").GetDouble());
        Assert.Equal(0, doc.RootElement.GetProperty("behaviour").GetProperty("transitions").GetArrayLength());
        foreach (string chart in new[] { ReportWriter.SolveRateChartFile, ReportWriter.TransitionsChartFile })
            AssertFiniteGeometry(XDocument.Load(Path.Combine(_directory, chart)));
    }

    private static void AssertFiniteGeometry(XDocument svg)
    {
        foreach (XAttribute attribute in svg.Descendants().Attributes())
        {
            Assert.DoesNotContain("NaN", attribute.Value);
            Assert.DoesNotContain("Infinity", attribute.Value);
            if (attribute.Name.LocalName is "x" or "y" or "width" or "height" or "x1" or "x2" or "y1" or "y2")
                Assert.True(double.TryParse(attribute.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0,
                    $"{attribute.Parent!.Name.LocalName}.{attribute.Name} = {attribute.Value}");
        }
    }
}
