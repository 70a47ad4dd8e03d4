using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Rlef.Serving.Hosting;

/// <summary>
/// A small registry of counters, gauges and histograms rendered in Prometheus' text exposition format (version
/// 0.0.4) at /metrics. Thread-safe; a metric with labels gets one series per distinct set of label values.
/// </summary>
public sealed class MetricsRegistry
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Latency buckets in seconds, from 0.5 ms (a warm sandbox test) to a minute.</summary>
    public static readonly double[] LatencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly List<MetricFamily> _families = [];
    private readonly Lock _lock = new();

    public Counter Counter(string name, string help, params string[] labelNames) => Add(new Counter(name, help, labelNames));

    /// <summary>A counter kept elsewhere and read when /metrics is scraped.</summary>
    public void CounterFrom(string name, string help, Func<double> read) => Add(new Counter(name, help, [], read));

    public Gauge Gauge(string name, string help, params string[] labelNames) => Add(new Gauge(name, help, labelNames));

    /// <summary>A gauge read when /metrics is scraped (queue lengths, pool sizes).</summary>
    public void GaugeFrom(string name, string help, Func<double> read) => Add(new Gauge(name, help, [], read));

    public Histogram Histogram(string name, string help, double[] buckets, params string[] labelNames) =>
        Add(new Histogram(name, help, buckets, labelNames));

    private T Add<T>(T family) where T : MetricFamily
    {
        lock (_lock)
        {
            if (_families.Any(f => f.Name == family.Name))
                throw new ArgumentException($"metric '{family.Name}' is registered twice");
            _families.Add(family);
        }
        return family;
    }

    public string Render()
    {
        var text = new StringBuilder();
        MetricFamily[] families;
        lock (_lock)
            families = [.. _families];
        foreach (var f in families)
        {
            text.Append("# HELP ").Append(f.Name).Append(' ').Append(f.Help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
            text.Append("# TYPE ").Append(f.Name).Append(' ').Append(f.Type).Append('\n');
            f.Render(text);
        }
        return text.ToString();
    }

    internal static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>One named metric and its series (one per set of label values).</summary>
public abstract class MetricFamily
{
    private static readonly System.Text.RegularExpressions.Regex NamePattern = new("^[a-zA-Z_:][a-zA-Z0-9_:]*$");

    protected MetricFamily(string name, string help, string[] labelNames)
    {
        if (!NamePattern.IsMatch(name))
            throw new ArgumentException($"'{name}' is not a valid Prometheus metric name");
        foreach (var l in labelNames)
            if (!NamePattern.IsMatch(l) || l.Contains(':') || l == "le")
                throw new ArgumentException($"'{l}' is not a valid label name for metric '{name}'");
        Name = name;
        Help = help;
        LabelNames = labelNames;
    }

    public string Name { get; }
    public string Help { get; }
    public IReadOnlyList<string> LabelNames { get; }
    internal abstract string Type { get; }
    internal abstract void Render(StringBuilder text);

    /// <summary>`{a="x",b="y"}` (with an extra label such as le appended), or "" without labels.</summary>
    internal string LabelText(string[] values, string? extraName = null, string? extraValue = null)
    {
        if (values.Length == 0 && extraName == null)
            return "";
        var s = new StringBuilder("{");
        for (int i = 0; i < values.Length; i++)
            s.Append(i > 0 ? "," : "").Append(LabelNames[i]).Append("=\"").Append(Escape(values[i])).Append('"');
        if (extraName != null)
            s.Append(values.Length > 0 ? "," : "").Append(extraName).Append("=\"").Append(extraValue).Append('"');
        return s.Append('}').ToString();
    }

    private static string Escape(string v) => v.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    protected void CheckLabels(string[] values)
    {
        if (values.Length != LabelNames.Count)
            throw new ArgumentException($"metric '{Name}' takes {LabelNames.Count} label values ({string.Join(", ", LabelNames)}), got {values.Length}");
    }

    protected static string Key(string[] values) => string.Join('\u0001', values);
}

/// <summary>
/// A family whose series each hold one number (counters and gauges), or whose single value is read from a function
/// at scrape time.
/// </summary>
public abstract class SingleValueFamily : MetricFamily
{
    private readonly ConcurrentDictionary<string, (string[] Labels, Cell Cell)> _series = new();
    private readonly Func<double>? _read;

    private protected SingleValueFamily(string name, string help, string[] labelNames, Func<double>? read) : base(name, help, labelNames)
    {
        _read = read;
        if (labelNames.Length == 0)
            _series[""] = ([], new Cell());
    }

    /// <summary>What a function-read family refuses, for the error message ("cannot be increased").</summary>
    private protected abstract string RefusedChange { get; }

    public double Value(params string[] labelValues) =>
        _read != null ? _read() : _series.TryGetValue(Key(labelValues), out var s) ? s.Cell.Value : 0;

    private protected Cell Series(string[] labelValues)
    {
        if (_read != null)
            throw new InvalidOperationException($"{Type} '{Name}' is read from a function; it {RefusedChange}");
        CheckLabels(labelValues);
        return _series.GetOrAdd(Key(labelValues), _ => ([.. labelValues], new Cell())).Cell;
    }

    internal override void Render(StringBuilder text)
    {
        if (_read != null)
        {
            text.Append(Name).Append(' ').Append(MetricsRegistry.Format(_read())).Append('\n');
            return;
        }
        foreach (var (labels, cell) in _series.Values.OrderBy(s => Key(s.Labels), StringComparer.Ordinal))
            text.Append(Name).Append(LabelText(labels)).Append(' ').Append(MetricsRegistry.Format(cell.Value)).Append('\n');
    }
}

/// <summary>A value that only goes up (requests served, verdicts given).</summary>
public sealed class Counter : SingleValueFamily
{
    internal Counter(string name, string help, string[] labelNames, Func<double>? read = null) : base(name, help, labelNames, read) { }

    internal override string Type => "counter";
    private protected override string RefusedChange => "cannot be increased";

    public void Inc() => Series([]).Add(1);

    public void Inc(params string[] labelValues) => Series(labelValues).Add(1);

    public void Add(double amount, params string[] labelValues)
    {
        if (amount < 0)
            throw new ArgumentOutOfRangeException(nameof(amount), $"counter '{Name}' cannot go down");
        Series(labelValues).Add(amount);
    }
}

/// <summary>A value that goes up and down (in-flight requests), or one read at scrape time.</summary>
public sealed class Gauge : SingleValueFamily
{
    internal Gauge(string name, string help, string[] labelNames, Func<double>? read = null) : base(name, help, labelNames, read) { }

    internal override string Type => "gauge";
    private protected override string RefusedChange => "cannot be set";

    public void Set(double value, params string[] labelValues) => Series(labelValues).Set(value);

    public void Add(double amount, params string[] labelValues) => Series(labelValues).Add(amount);
}

/// <summary>Observations counted into cumulative buckets (latencies), with their sum and count.</summary>
public sealed class Histogram : MetricFamily
{
    private readonly double[] _bounds;
    private readonly ConcurrentDictionary<string, (string[] Labels, Buckets Buckets)> _series = new();

    internal Histogram(string name, string help, double[] buckets, string[] labelNames) : base(name, help, labelNames)
    {
        if (buckets.Length == 0 || buckets.Zip(buckets.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"histogram '{name}' needs increasing bucket bounds");
        _bounds = [.. buckets];
    }

    internal override string Type => "histogram";

    public void Observe(double value, params string[] labelValues)
    {
        CheckLabels(labelValues);
        _series.GetOrAdd(Key(labelValues), _ => ([.. labelValues], new Buckets(_bounds.Length))).Buckets.Observe(_bounds, value);
    }

    /// <summary>How many observations a series holds (tests, progress lines).</summary>
    public long Count(params string[] labelValues) => _series.TryGetValue(Key(labelValues), out var s) ? Interlocked.Read(ref s.Buckets.Count) : 0;

    internal override void Render(StringBuilder text)
    {
        foreach (var (labels, b) in _series.Values.OrderBy(s => Key(s.Labels), StringComparer.Ordinal))
        {
            long cumulative = 0;
            for (int i = 0; i < _bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref b.PerBucket[i]);
                text.Append(Name).Append("_bucket").Append(LabelText(labels, "le", MetricsRegistry.Format(_bounds[i]))).Append(' ').Append(cumulative).Append('\n');
            }
            long count = Interlocked.Read(ref b.Count);
            text.Append(Name).Append("_bucket").Append(LabelText(labels, "le", "+Inf")).Append(' ').Append(count).Append('\n');
            text.Append(Name).Append("_sum").Append(LabelText(labels)).Append(' ').Append(MetricsRegistry.Format(b.Sum.Value)).Append('\n');
            text.Append(Name).Append("_count").Append(LabelText(labels)).Append(' ').Append(count).Append('\n');
        }
    }

    private sealed class Buckets(int n)
    {
        // Per-bucket (non-cumulative) counts, the last slot for values above every bound; cumulated when rendered.
        public readonly long[] PerBucket = new long[n + 1];
        public readonly Cell Sum = new();
        public long Count;

        public void Observe(double[] bounds, double value)
        {
            int i = Array.BinarySearch(bounds, value);
            if (i < 0)
                i = ~i;  // the first bound above the value (bounds are inclusive upper limits: le)
            Interlocked.Increment(ref PerBucket[i]);
            Sum.Add(value);
            Interlocked.Increment(ref Count);
        }
    }
}

/// <summary>A double updated atomically.</summary>
internal sealed class Cell
{
    private long _bits;

    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));

    public void Add(double amount)
    {
        long seen = Interlocked.Read(ref _bits);
        while (true)
        {
            long next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + amount);
            long now = Interlocked.CompareExchange(ref _bits, next, seen);
            if (now == seen)
                return;
            seen = now;
        }
    }
}
