using System.Globalization;
using System.Security;
using System.Text;
using Rlef.Evaluation.Statistics;

namespace Rlef.Mini;

/// <summary>The report's own charts (the per-policy ones come from Rlef.Evaluation's SvgCharts), hand-written SVG.</summary>
public static class MiniReportCharts
{
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
            svg.AppendLine(I($"<line x1=\"{left}\" y1=\"{y:0.##}\" x2=\"{width - right}\" y2=\"{y:0.##}\" stroke=\"#ddd\" />"));
            Text(svg, left - 6, y + 4, I($"{100 * v:0.#}%"), "end", 11);
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
                svg.AppendLine(I($"<rect x=\"{x:0.##}\" y=\"{y:0.##}\" width=\"{bar - 2:0.##}\" height=\"{top + plotHeight - y:0.##}\" fill=\"{series[s].Colour}\">") +
                               $"<title>{Escape(series[s].Name)}, {Escape(groups[g])}: {e.ToPercentText()}</title></rect>");
                double mid = x + (bar - 2) / 2;
                if (!double.IsNaN(e.CiLow))
                    svg.AppendLine(I($"<path d=\"M{mid:0.##},{Y(e.CiLow):0.##}V{Y(e.CiHigh):0.##}M{mid - 5:0.##},{Y(e.CiLow):0.##}H{mid + 5:0.##}M{mid - 5:0.##},{Y(e.CiHigh):0.##}H{mid + 5:0.##}\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\" />"));
                Text(svg, mid, Math.Min(y, double.IsNaN(e.CiHigh) ? y : Y(e.CiHigh)) - 4, I($"{100 * e.Value:0.0}"), "middle", 10);
            }
        }
        svg.AppendLine(I($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#444\" />"));
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
            svg.AppendLine(I($"<line x1=\"{left}\" y1=\"{y:0.##}\" x2=\"{width - right}\" y2=\"{y:0.##}\" stroke=\"{(Math.Abs(v) < 1e-9 ? "#999" : "#ddd")}\" />"));
            Text(svg, left - 6, y + 4, I($"{v:0.##}"), "end", 11);
        }
        int xTicks = (int)Math.Min(10, xMax - xMin);
        for (int tick = 0; tick <= xTicks; tick++)
        {
            double v = xMin + (xMax - xMin) * tick / Math.Max(1, xTicks);
            Text(svg, X(v), height - bottom + 16, I($"{v:0.#}"), "middle", 11);
        }
        foreach (Line line in lines)
        {
            if (line.Points.Count == 0) continue;
            if (!line.Dots)
                svg.AppendLine($"<polyline fill=\"none\" stroke=\"{line.Colour}\" stroke-width=\"2\" points=\"" +
                               string.Join(' ', line.Points.Select(p => I($"{X(p.X):0.##},{Y(p.Y):0.##}"))) + "\" />");
            foreach (var p in line.Points)
                svg.AppendLine(I($"<circle cx=\"{X(p.X):0.##}\" cy=\"{Y(p.Y):0.##}\" r=\"{(line.Dots ? 4 : 2.5)}\" fill=\"{line.Colour}\"><title>") +
                               Escape(line.Name) + I($" at {p.X:0.##}: {p.Y:0.###}</title></circle>"));
        }
        svg.AppendLine(I($"<line x1=\"{left}\" y1=\"{top + plotHeight}\" x2=\"{width - right}\" y2=\"{top + plotHeight}\" stroke=\"#444\" />"));
        Text(svg, left + plotWidth / 2, height - 10, xLabel, "middle", 12);
        return End(svg);
    }

    /// <summary>One row of colour swatches with names under the title, <paramref name="spacing"/> apart.</summary>
    static void Legend(StringBuilder svg, double left, double spacing, IEnumerable<(string Name, string Colour)> entries)
    {
        int i = 0;
        foreach (var (name, colour) in entries)
        {
            double x = left + 10 + spacing * i++;
            svg.AppendLine(I($"<rect x=\"{x}\" y=\"30\" width=\"12\" height=\"12\" fill=\"{colour}\" />"));
            Text(svg, x + 16, 40, name, "start", 12);
        }
    }

    static StringBuilder Begin(double width, double height, string title)
    {
        var svg = new StringBuilder();
        svg.AppendLine(I($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"") + Escape(title) + "\">");
        svg.AppendLine(I($"<rect width=\"{width}\" height=\"{height}\" fill=\"white\" />"));
        return svg;
    }

    static string End(StringBuilder svg) => svg.AppendLine("</svg>").ToString();

    static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size, bool bold = false) =>
        svg.AppendLine(I($"<text x=\"{x:0.##}\" y=\"{y:0.##}\" text-anchor=\"{anchor}\" font-family=\"sans-serif\" font-size=\"{size}\"") +
                       (bold ? " font-weight=\"bold\"" : "") + ">" + Escape(text) + "</text>");

    static string Escape(string text) => SecurityElement.Escape(text) ?? "";
    static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
