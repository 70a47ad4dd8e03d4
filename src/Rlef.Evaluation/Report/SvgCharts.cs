using System.Globalization;
using System.Security;
using System.Text;
using Rlef.Evaluation.Behaviour;
using Rlef.Evaluation.Statistics;

namespace Rlef.Evaluation.Report;

/// <summary>
/// Every chart of the project's reports, as self-contained SVG documents written by hand (no charting library), on
/// one set of primitives (document, text, legend): an evaluation's solve rate by turn limit and outcome transitions,
/// and the grouped bars and lines of the miniature's report.
/// </summary>
public static class SvgCharts
{
    private const string Font = "font-family=\"sans-serif\"";

    /// <summary>Bars of the solve rate at each turn limit 1..T with their 95% intervals as error bars.</summary>
    public static string SolveRateByTurnLimit(EvaluationReport report)
    {
        IReadOnlyList<TurnLimitSolveRate> rates = report.SolveRateByTurnLimit;
        const double width = 480, height = 300, left = 56, right = 16, top = 36, bottom = 44;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        double highest = rates.Select(r => double.IsNaN(r.Estimate.CiHigh) ? r.Estimate.Value : r.Estimate.CiHigh).DefaultIfEmpty(0).Max();
        // Axis top: the next 10% step above the highest interval end, so small rates are not squashed into the floor.
        double axisMax = Math.Clamp(Math.Ceiling(highest * 10 + 1e-9) / 10, 0.1, 1.0);
        double Y(double rate) => top + plotHeight * (1 - rate / axisMax);

        var svg = Begin(width, height, "Solve rate by turn limit with 95% bootstrap intervals");
        Text(svg, width / 2, 20, "Solve rate by turn limit (95% CI)", "middle", 14, bold: true);
        for (int tick = 0; tick <= 5; tick++)
        {
            double rate = axisMax * tick / 5, y = Y(rate);
            svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{y:0.##}\" x2=\"{width - right}\" y2=\"{y:0.##}\" stroke=\"#ddd\" />"));
            Text(svg, left - 6, y + 4, Invariant($"{100 * rate:0.#}%"), "end", 11);
        }
        double slot = plotWidth / Math.Max(1, rates.Count), barWidth = Math.Min(60, slot * 0.6);
        foreach ((TurnLimitSolveRate rate, int i) in rates.Select((r, i) => (r, i)))
        {
            double centre = left + slot * (i + 0.5);
            Text(svg, centre, height - bottom + 18, rate.TurnLimit.ToString(CultureInfo.InvariantCulture), "middle", 12);
            if (!rate.Estimate.IsDefined)
                continue;
            double y = Y(rate.Estimate.Value);
            svg.AppendLine(Invariant($"<rect x=\"{centre - barWidth / 2:0.##}\" y=\"{y:0.##}\" width=\"{barWidth:0.##}\" height=\"{top + plotHeight - y:0.##}\" fill=\"#0072B2\"><title>turn limit {rate.TurnLimit}: {rate.Estimate.ToPercentText()}</title></rect>"));
            if (!double.IsNaN(rate.Estimate.CiLow))
            {
                double low = Y(rate.Estimate.CiLow), high = Y(rate.Estimate.CiHigh), cap = barWidth / 4;
                svg.AppendLine(Invariant($"<path d=\"M{centre:0.##},{low:0.##}V{high:0.##}M{centre - cap:0.##},{low:0.##}H{centre + cap:0.##}M{centre - cap:0.##},{high:0.##}H{centre + cap:0.##}\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\" />"));
            }
            Text(svg, centre + barWidth / 2 + 3, y - 4, Invariant($"{100 * rate.Estimate.Value:0.0}%"), "start", 11);
        }
        svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#444\" />"));
        Text(svg, left + plotWidth / 2, height - 8, "turn limit", "middle", 12);
        return End(svg);
    }

    /// <summary>
    /// Sankey-like flow of public-test outcomes: one stacked column per turn (height ∝ rollouts reaching that turn,
    /// split by outcome) and bands from each class at turn t to the classes the same rollouts reach at turn t+1.
    /// </summary>
    public static string OutcomeTransitions(EvaluationReport report)
    {
        IReadOnlyList<OutcomeDistribution> turns = report.Behaviour.OutcomesByTurn;
        IReadOnlyList<TurnOutcome> classes = BehaviourAnalysis.Classes;
        const double height = 360, top = 40, columnWidth = 26, gap = 3, legendHeight = 44;
        double width = Math.Max(420, 80 + 170 * turns.Count);
        double plotHeight = height - top - legendHeight - 28 - gap * (classes.Count - 1);
        int total = Math.Max(1, turns.Count == 0 ? 0 : turns[0].Rollouts);
        double scale = plotHeight / total;
        // Margins leave room for the centred column titles on the left and the count labels right of the last column.
        double ColumnX(int turnIndex) => turns.Count == 1 ? width / 2 - columnWidth / 2 : 70 + (width - 160 - columnWidth) * turnIndex / (turns.Count - 1);

        // Segment tops per (turn, class); empty classes take no height and no gap.
        var segmentTop = new double[turns.Count, classes.Count];
        for (int t = 0; t < turns.Count; t++)
        {
            double y = top;
            foreach (TurnOutcome c in classes)
            {
                segmentTop[t, (int)c] = y;
                int count = turns[t].Counts.GetValueOrDefault(c);
                if (count > 0)
                    y += count * scale + gap;
            }
        }

        var svg = Begin(width, height, "Public-test outcome per turn and transitions between turns");
        Text(svg, width / 2, 20, "Public-test outcomes per turn and transitions", "middle", 14, bold: true);

        // Bands first so that the columns are drawn over their ends.
        var outgoing = (double[,])segmentTop.Clone();
        var incoming = (double[,])segmentTop.Clone();
        foreach (Transition move in report.Behaviour.Transitions.OrderBy(m => m.FromTurn).ThenBy(m => m.From).ThenBy(m => m.To))
        {
            int from = move.FromTurn - 1, to = move.FromTurn;
            if (to >= turns.Count)
                continue;
            double band = move.Count * scale;
            double x1 = ColumnX(from) + columnWidth, x2 = ColumnX(to), middle = (x1 + x2) / 2;
            double y1 = outgoing[from, (int)move.From], y2 = incoming[to, (int)move.To];
            outgoing[from, (int)move.From] += band;
            incoming[to, (int)move.To] += band;
            svg.AppendLine(Invariant(
                $"<path d=\"M{x1:0.##},{y1:0.##}C{middle:0.##},{y1:0.##} {middle:0.##},{y2:0.##} {x2:0.##},{y2:0.##}V{y2 + band:0.##}C{middle:0.##},{y2 + band:0.##} {middle:0.##},{y1 + band:0.##} {x1:0.##},{y1 + band:0.##}Z\" fill=\"{OutcomeNames.Colour(move.From)}\" fill-opacity=\"0.35\">") +
                $"<title>{Escape(Invariant($"turn {move.FromTurn} {OutcomeNames.Label(move.From)} → turn {move.FromTurn + 1} {OutcomeNames.Label(move.To)}: {move.Count}"))}</title></path>");
        }

        for (int t = 0; t < turns.Count; t++)
        {
            double x = ColumnX(t);
            Text(svg, x + columnWidth / 2, top - 8, Invariant($"turn {turns[t].Turn} (n={turns[t].Rollouts})"), "middle", 11);
            foreach (TurnOutcome c in classes)
            {
                int count = turns[t].Counts.GetValueOrDefault(c);
                if (count == 0)
                    continue;
                double y = segmentTop[t, (int)c], h = count * scale;
                svg.AppendLine(Invariant($"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"{columnWidth}\" height=\"{h:0.##}\" fill=\"{OutcomeNames.Colour(c)}\">") +
                    $"<title>{Escape(Invariant($"turn {turns[t].Turn}: {OutcomeNames.Label(c)} {count} ({100.0 * count / turns[t].Rollouts:0.0}%)"))}</title></rect>");
                if (h >= 12)
                    Text(svg, x + columnWidth + 3, y + Math.Min(h / 2 + 4, 12), count.ToString(CultureInfo.InvariantCulture), "start", 10);
            }
        }

        // Legend: one swatch per class, in two rows when the chart is narrow.
        int perRow = width >= 620 ? classes.Count : 3;
        double legendTop = height - legendHeight + 4, itemWidth = (width - 40) / perRow;
        foreach ((TurnOutcome c, int i) in classes.Select((c, i) => (c, i)))
        {
            double x = 20 + itemWidth * (i % perRow), y = legendTop + 18 * (i / perRow);
            svg.AppendLine(Invariant($"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"12\" height=\"12\" fill=\"{OutcomeNames.Colour(c)}\" />"));
            Text(svg, x + 16, y + 10, OutcomeNames.Label(c), "start", 11);
        }
        return End(svg);
    }

    public sealed record Series(string Name, string Colour, IReadOnlyList<Estimate> Values);

    /// <summary>Grouped bars (one group per <paramref name="groups"/> entry, one bar per series) with 95% CI whiskers.</summary>
    public static string GroupedBars(string title, IReadOnlyList<string> groups, IReadOnlyList<Series> series)
    {
        const double width = 640, height = 340, left = 56, right = 16, top = 56, bottom = 50;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        double highest = series.SelectMany(s => s.Values).Select(e => double.IsNaN(e.CiHigh) ? e.Value : e.CiHigh)
            .Where(double.IsFinite).DefaultIfEmpty(0).Max();
        double axisMax = Math.Clamp(Math.Ceiling(highest * 10 + 1e-9) / 10, 0.1, 1.0);
        double Y(double v) => top + plotHeight * (1 - v / axisMax);

        var svg = Begin(width, height, title);
        Text(svg, width / 2, 20, title, "middle", 14, bold: true);
        Legend(svg, left, 150, series.Select(x => (x.Name, x.Colour)));
        for (int tick = 0; tick <= 5; tick++)
        {
            double v = axisMax * tick / 5, y = Y(v);
            svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{y:0.##}\" x2=\"{width - right}\" y2=\"{y:0.##}\" stroke=\"#ddd\" />"));
            Text(svg, left - 6, y + 4, Invariant($"{100 * v:0.#}%"), "end", 11);
        }
        double slot = plotWidth / Math.Max(1, groups.Count), bar = Math.Min(56, slot * 0.8 / Math.Max(1, series.Count));
        for (int g = 0; g < groups.Count; g++)
        {
            double centre = left + slot * (g + 0.5);
            Text(svg, centre, height - bottom + 18, groups[g], "middle", 12);
            for (int s = 0; s < series.Count; s++)
            {
                if (g >= series[s].Values.Count || !series[s].Values[g].IsDefined) continue;
                Estimate e = series[s].Values[g];
                double x = centre + (s - series.Count / 2.0) * bar, y = Y(e.Value);
                svg.AppendLine(Invariant($"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"{bar - 2:0.##}\" height=\"{top + plotHeight - y:0.##}\" fill=\"{series[s].Colour}\">") +
                               $"<title>{Escape(series[s].Name)}, {Escape(groups[g])}: {e.ToPercentText()}</title></rect>");
                double mid = x + (bar - 2) / 2;
                if (!double.IsNaN(e.CiLow))
                    svg.AppendLine(Invariant($"<path d=\"M{mid:0.##},{Y(e.CiLow):0.##}V{Y(e.CiHigh):0.##}M{mid - 5:0.##},{Y(e.CiLow):0.##}H{mid + 5:0.##}M{mid - 5:0.##},{Y(e.CiHigh):0.##}H{mid + 5:0.##}\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\" />"));
                Text(svg, mid, Math.Min(y, double.IsNaN(e.CiHigh) ? y : Y(e.CiHigh)) - 4, Invariant($"{100 * e.Value:0.0}"), "middle", 10);
            }
        }
        svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#444\" />"));
        Text(svg, left + plotWidth / 2, height - 10, "bars: estimate; whiskers: 95% bootstrap CI over problems", "middle", 11);
        return End(svg);
    }

    public sealed record Line(string Name, string Colour, IReadOnlyList<(double X, double Y)> Points, bool Dots = false);

    /// <summary>Lines over a shared y range (e.g. solve rate in [0, 1] and mean return in [−1.2, 1]).</summary>
    public static string Lines(string title, string xLabel, IReadOnlyList<Line> lines, double yMin, double yMax)
    {
        const double width = 640, height = 340, left = 56, right = 16, top = 56, bottom = 50;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        var xs = lines.SelectMany(l => l.Points).Select(p => p.X).DefaultIfEmpty(0).ToList();
        double xMin = xs.Min(), xMax = Math.Max(xs.Max(), xMin + 1);
        double X(double x) => left + plotWidth * (x - xMin) / (xMax - xMin);
        double Y(double y) => top + plotHeight * (1 - (Math.Clamp(y, yMin, yMax) - yMin) / (yMax - yMin));

        var svg = Begin(width, height, title);
        Text(svg, width / 2, 20, title, "middle", 14, bold: true);
        Legend(svg, left, 190, lines.Select(x => (x.Name, x.Colour)));
        for (int tick = 0; tick <= 5; tick++)
        {
            double v = yMin + (yMax - yMin) * tick / 5, y = Y(v);
            svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{y:0.##}\" x2=\"{width - right}\" y2=\"{y:0.##}\" stroke=\"{(Math.Abs(v) < 1e-9 ? "#999" : "#ddd")}\" />"));
            Text(svg, left - 6, y + 4, Invariant($"{v:0.##}"), "end", 11);
        }
        int xTicks = (int)Math.Min(10, xMax - xMin);
        for (int tick = 0; tick <= xTicks; tick++)
        {
            double v = xMin + (xMax - xMin) * tick / Math.Max(1, xTicks);
            Text(svg, X(v), height - bottom + 16, Invariant($"{v:0.#}"), "middle", 11);
        }
        foreach (Line line in lines)
        {
            if (line.Points.Count == 0) continue;
            if (!line.Dots)
                svg.AppendLine($"<polyline fill=\"none\" stroke=\"{line.Colour}\" stroke-width=\"2\" points=\"" +
                               string.Join(' ', line.Points.Select(p => Invariant($"{X(p.X):0.##},{Y(p.Y):0.##}"))) + "\" />");
            foreach (var p in line.Points)
                svg.AppendLine(Invariant($"<circle cx=\"{X(p.X):0.##}\" cy=\"{Y(p.Y):0.##}\" r=\"{(line.Dots ? 4 : 2.5)}\" fill=\"{line.Colour}\"><title>") +
                               Escape(line.Name) + Invariant($" at {p.X:0.##}: {p.Y:0.###}</title></circle>"));
        }
        svg.AppendLine(Invariant($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#444\" />"));
        Text(svg, left + plotWidth / 2, height - 10, xLabel, "middle", 12);
        return End(svg);
    }

    /// <summary>One row of colour swatches with names under the title, <paramref name="spacing"/> apart.</summary>
    private static void Legend(StringBuilder svg, double left, double spacing, IEnumerable<(string Name, string Colour)> entries)
    {
        int i = 0;
        foreach (var (name, colour) in entries)
        {
            double x = left + 10 + spacing * i++;
            svg.AppendLine(Invariant($"<rect x=\"{x}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{colour}\" />"));
            Text(svg, x + 16, 40, name, "start", 12);
        }
    }

    private static StringBuilder Begin(double width, double height, string title)
    {
        var svg = new StringBuilder();
        svg.AppendLine(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:0.##}\" height=\"{height:0.##}\" viewBox=\"0 0 {width:0.##} {height:0.##}\" role=\"img\">"));
        svg.AppendLine($"<title>{Escape(title)}</title>");
        svg.AppendLine(Invariant($"<rect width=\"{width:0.##}\" height=\"{height:0.##}\" fill=\"white\" />"));
        return svg;
    }

    private static string End(StringBuilder svg) => svg.AppendLine("</svg>").ToString();

    private static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size, bool bold = false) =>
        svg.AppendLine(Invariant($"<text x=\"{x:0.##}\" y=\"{y:0.##}\" text-anchor=\"{anchor}\" font-size=\"{size}\" {Font}{(bold ? " font-weight=\"bold\"" : "")}>") +
            Escape(text) + "</text>");

    private static string Escape(string text) => SecurityElement.Escape(text);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
