using Rlef.Training.Runs;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Rlef.Cli.Training;

/// <summary>A live Spectre.Console view of a <see cref="TrainingProgress"/>, refreshed until the work finishes.</summary>
static class TrainingDisplay
{
    public static async Task RunAsync(string title, TrainingProgress progress, Func<Task> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            await work();
            return;
        }
        await AnsiConsole.Live(Render(title, progress.Snapshot())).StartAsync(async live =>
        {
            Task running = work();
            while (await Task.WhenAny(running, Task.Delay(500)) != running)
                live.UpdateTarget(Render(title, progress.Snapshot()));
            live.UpdateTarget(Render(title, progress.Snapshot()));
            await running;
        });
    }

    static IRenderable Render(string title, ProgressSnapshot s)
    {
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title)).AddColumn("").AddColumn("");
        table.AddRow("step", $"{s.Step} / {s.TotalSteps} ({s.Fraction:P0})");
        table.AddRow("phase", s.CurrentPhase?.ToString().ToLowerInvariant() ?? "starting");
        table.AddRow("elapsed", $"{s.Elapsed:hh\\:mm\\:ss}" + (s.Eta is { } eta ? $"  eta {eta:hh\\:mm\\:ss}" : ""));
        table.AddRow("rate", $"{s.StepsPerSecond * 60:F2} updates/min, {s.TokensPerSecond:F0} tokens/s");
        double total = s.TimeSplit.Values.Sum();
        if (total > 0)
            table.AddRow("time split", string.Join("  ", s.TimeSplit.Where(p => p.Value > 0)
                .Select(p => $"{p.Key.ToString().ToLowerInvariant()} {p.Value / total:P0}")));
        var last = s.LastMetrics.ToDictionary(m => m.Key, m => m.Value);
        foreach (string name in MetricNames.Shown)
            if (last.TryGetValue(name, out double v)) table.AddRow(name, v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture));
        return table;
    }
}
