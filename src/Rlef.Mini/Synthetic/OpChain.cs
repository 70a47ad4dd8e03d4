using System.Text;

namespace Rlef.Mini.Synthetic;

/// <summary>
/// A whole program: read the family's input, apply <see cref="Ops"/> in order (a Start op first for numbers, a
/// Terminal op last), print one line; with <see cref="MultiCase"/> the input starts with t and the program repeats
/// per test case. The same chain is evaluated in C# (the expected outputs) and rendered as the Python solution.
/// <see cref="ForgetsLoop"/> is a bug only incorrect solutions have: read t, then solve the first case only.
/// </summary>
public sealed record OpChain(Family Family, bool MultiCase, IReadOnlyList<Op> Ops, bool ForgetsLoop = false)
{
    /// <summary>
    /// Canonical identity of the task: family, ops and parameters. Two problems with the same key are the same task;
    /// a leading t or a different value range does not make a new one.
    /// </summary>
    public string Key => $"{Family.ToString().ToLowerInvariant()}:{string.Join(" > ", Ops.Select(o => o.Key))}";

    /// <summary>The chain's shape without parameters (e.g. <c>list:keep_gt > mul > sum</c>), used to hold shapes out of train.</summary>
    public string StructureKey => $"{Family.ToString().ToLowerInvariant()}:{string.Join(" > ", Ops.Select(o => o.Name))}";

    public IEnumerable<OpSpec> Specs => Ops.Select(o => OpCatalog.Get(Family, o.Name));

    // Value equality over the op list (a record would compare the list by reference).
    public bool Equals(OpChain? other) =>
        other is not null && Key == other.Key && MultiCase == other.MultiCase && ForgetsLoop == other.ForgetsLoop;
    public override int GetHashCode() => HashCode.Combine(Key, MultiCase, ForgetsLoop);

    // ---- C# evaluation ----------------------------------------------------------------------------------------------

    /// <summary>The answer line for one test case; throws <see cref="PythonWouldRaise"/> where the Python code would crash.</summary>
    public string Answer(object testCase)
    {
        object value = testCase;
        foreach (var op in Ops)
            value = OpCatalog.Get(Family, op.Name).Apply(op, value);
        return (string)value;
    }

    /// <summary>The whole stdout for a test made of these cases (one line per case; only the first if the loop is forgotten).</summary>
    public string Run(IReadOnlyList<object> cases)
    {
        var output = new StringBuilder();
        foreach (var c in ForgetsLoop ? cases.Take(1) : cases)
            output.Append(Answer(c)).Append('\n');
        return output.ToString();
    }

    // ---- Python rendering -------------------------------------------------------------------------------------------

    public string ToPython()
    {
        string[] read = Family switch
        {
            Family.Numbers => ["a, b = map(int, input().split())"],
            Family.List => ["n = int(input())", "a = list(map(int, input().split()))"],
            Family.Text => ["s = input()"],
            _ => throw new ArgumentOutOfRangeException(nameof(Family)),
        };
        // A spec may render several lines (the open positional terminals); each is indented alike under the loop.
        var body = read.Concat(Specs.Zip(Ops, (spec, op) => spec.Python(op)).SelectMany(code => code.Split('\n'))).ToList();
        var code = new StringBuilder();
        if (!MultiCase)
            body.ForEach(line => code.Append(line).Append('\n'));
        else if (ForgetsLoop)
        {
            code.Append("t = int(input())\n");
            body.ForEach(line => code.Append(line).Append('\n'));
        }
        else
        {
            code.Append("for _ in range(int(input())):\n");
            body.ForEach(line => code.Append("    ").Append(line).Append('\n'));
        }
        return code.ToString();
    }

    // ---- inputs -----------------------------------------------------------------------------------------------------

    /// <summary>The stdin text of a test made of these cases (with the leading t when multi-case).</summary>
    public string RenderInput(IReadOnlyList<object> cases)
    {
        var text = new StringBuilder();
        if (MultiCase)
            text.Append(cases.Count).Append('\n');
        else if (cases.Count != 1)
            throw new ArgumentException($"a single-case problem takes exactly one case, got {cases.Count}", nameof(cases));
        foreach (var c in cases)
            text.Append(RenderCase(Family, c));
        return text.ToString();
    }

    internal static string RenderCase(Family family, object c)
    {
        switch (family)
        {
            case Family.Numbers:
                var (a, b) = ((long, long))c;
                return $"{a} {b}\n";
            case Family.List:
                var list = (long[])c;
                return $"{list.Length}\n{string.Join(' ', list)}\n";
            case Family.Text:
                return $"{(string)c}\n";
            default:
                throw new ArgumentOutOfRangeException(nameof(family));
        }
    }
}
