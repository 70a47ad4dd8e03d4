using static Rlef.Mini.Synthetic.MutationKind;

namespace Rlef.Mini.Synthetic;

// The operations problems are composed of, family by family. Each entry reads as: name, the Python line, the English
// clauses, the C# semantics (which must equal Python's: floor division, non-negative modulo, slicing that clamps)
// and the plausible bugs a contestant makes when writing it. Ops without Sample exist only as such bugs.
public static class OpCatalog
{
    private static readonly Dictionary<(Family, string), OpSpec> Specs = Build().ToDictionary(s => (s.Family, s.Name));

    public static OpSpec Get(Family family, string name) =>
        Specs.TryGetValue((family, name), out var spec) ? spec : throw new KeyNotFoundException($"no {family} operation named '{name}'");

    /// <summary>The ops a reference chain may use in the given role, in a fixed order (sampling must be deterministic).
    /// Positional terminals are not among them (see <see cref="Positional"/>).</summary>
    public static IReadOnlyList<OpSpec> Sampled(Family family, OpRole role) => SampledByRole[(family, role, false)];

    /// <summary>The family's sampled terminals that print a position with an unstated base (empty for numbers).</summary>
    public static IReadOnlyList<OpSpec> Positional(Family family) => SampledByRole[(family, OpRole.Terminal, true)];

    /// <summary>The family's sampled positional terminals with open conventions (<see cref="OpSpec.OpenConventions"/>).</summary>
    public static IReadOnlyList<OpSpec> OpenPositional(Family family) => OpenByFamily[family];

    private static readonly Dictionary<Family, IReadOnlyList<OpSpec>> OpenByFamily = Enum.GetValues<Family>().ToDictionary(
        f => f, f => (IReadOnlyList<OpSpec>)Specs.Values.Where(s => s.Family == f && s.OpenConventions && s.Sample != null)
            .OrderBy(s => s.Name, StringComparer.Ordinal).ToList());

    /// <summary>For a terminal with open conventions, the same terminal counting the other occurrence (first for last).</summary>
    public static string OtherOccurrence(string name) =>
        name.Contains("_first") ? name.Replace("_first", "_last") : name.Replace("_last", "_first");

    /// <summary>For a positional terminal, the same terminal counting from the other base (a "0" suffix counts from 0).</summary>
    public static string OtherBase(string name) => name.EndsWith('0') ? name[..^1] : name + "0";

    private static readonly Dictionary<(Family, OpRole, bool), IReadOnlyList<OpSpec>> SampledByRole =
        (from f in Enum.GetValues<Family>() from r in Enum.GetValues<OpRole>() from p in new[] { false, true } select (f, r, p)).ToDictionary(
            key => key,
            key => (IReadOnlyList<OpSpec>)Specs.Values.Where(s => s.Family == key.f && s.Role == key.r && s.Sample != null && s.Positional == key.p && !s.OpenConventions)
                .OrderBy(s => s.Name, StringComparer.Ordinal).ToList());

    /// <summary>
    /// Share of positional problems whose positions count from 1 (the contest convention); the rest count from 0 (Python's).
    /// Their statements read alike, so a solver learns the base from the examples, or from the feedback.
    /// </summary>
    public const double OneBasedPositionShare = 2.0 / 3;

    // ---- Python semantics in C# -----------------------------------------------------------------------------------
    public static long FloorDiv(long x, long k) => x / k - ((x % k != 0 && (x < 0) != (k < 0)) ? 1 : 0);
    public static long FloorMod(long x, long k) => x - k * FloorDiv(x, k);
    private static long TruncDiv(long x, long k) => x / k;

    // a[k:] + a[:k] for k >= 0: a rotation when k < len, otherwise unchanged (a[k:] is empty, a[:k] is all of a).
    private static T[] RotateLeft<T>(T[] a, long k) => k >= a.Length ? a : [.. a[(int)k..], .. a[..(int)k]];
    // a[-k:] + a[:-k] for k >= 1: unchanged when k >= len (a[-k:] is all of a, a[:-k] is empty).
    private static T[] RotateRight<T>(T[] a, long k) => k >= a.Length ? a : [.. a[^(int)k..], .. a[..^(int)k]];
    private static T[] Take<T>(T[] a, long k) => a[..(int)Math.Min(Math.Max(k, 0), a.Length)];
    private static T[] Drop<T>(T[] a, long k) => a[(int)Math.Min(Math.Max(k, 0), a.Length)..];

    private static string Str(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private static string Count(long k, string noun) => k == 1 ? $"{noun}" : $"{k} {noun}s";

    // ---- samplers ---------------------------------------------------------------------------------------------------
    private static Func<Random, Domain, Op> Const(string name, int lo, int hi) => (r, _) => new Op(name, r.Next(lo, hi + 1)) { HasK = true };
    // A threshold inside the value range (not at its very ends, so that both sides of it occur in tests).
    private static Func<Random, Domain, Op> Threshold(string name) => (r, d) => new Op(name, r.NextInt64(d.Lo + 2, d.Hi - 1)) { HasK = true };
    private static Func<Random, Domain, Op> Plain(string name) => (_, _) => new Op(name);
    private static Func<Random, Domain, Op> Letter(string name) => (r, d) => new Op(name, C: d.Alphabet[r.Next(d.Alphabet.Length)]);
    private static Func<Random, Domain, Op> TwoLetters(string name) => (r, d) =>
    {
        char c = d.Alphabet[r.Next(d.Alphabet.Length)], e;
        do e = d.Alphabet[r.Next(d.Alphabet.Length)]; while (e == c);
        return new Op(name, C: c, D: e);
    };

    // A positional terminal: the reference counts from 1 or from 0 (see OneBasedPositionShare); the other base is its
    // wrong-format mutant, a mismatch of the kind "expected `3` but got `2`".
    private static Func<Random, Domain, Op> Based(string name, Func<Random, Domain, Op> sample) =>
        (r, d) => sample(r, d) with { Name = r.NextDouble() < OneBasedPositionShare ? name : BasedName(name, 0) };

    // Positional ops come in pairs: "name" counts from 1, "name0" from 0.
    private static string BasedName(string name, int @base) => @base == 1 ? name : name + "0";

    // The bugs of a positional terminal: the other base (a wrong format), and its rival op in the same base.
    private static Func<Op, Domain, IEnumerable<OpMutation>> PositionBugs(string name, string rival, int @base) =>
        (o, _) => [new(WrongFormat, o with { Name = BasedName(name, 1 - @base) }), new(WrongOperator, o with { Name = BasedName(rival, @base) })];

    // A terminal with open conventions comes in four: "stem_first" and "stem_last", each with "0" appended when
    // counting from 0. Only "stem_first" is sampled; it draws the occurrence (even odds) and the base.
    private static string[] Occurrences => ["first", "last"];   // a property: Build() runs before static fields below it
    private static string OpenName(string stem, string occurrence, int @base) => BasedName($"{stem}_{occurrence}", @base);
    private static Func<Random, Domain, Op> OpenSample(string stem, Func<Random, Domain, Op> sample) =>
        (r, d) => sample(r, d) with { Name = OpenName(stem, Occurrences[r.Next(2)], r.NextDouble() < OneBasedPositionShare ? 1 : 0) };

    // The print line of such a terminal: i is the 0-based position of the chosen occurrence, -1 if there is none.
    private static string OpenPrint(int @base) => @base == 1 ? "print(i + 1 if i >= 0 else -1)" : "print(i)";

    // The bugs of such a terminal: each of the three other conventions (wrong formats: the statement leaves them
    // open), and, where given, the rival terminal with the same conventions.
    private static Func<Op, Domain, IEnumerable<OpMutation>> ConventionBugs(string stem, string occurrence, int @base,
        Func<Op, Domain, IEnumerable<OpMutation>>? rival = null) => (o, d) =>
            (from occ in Occurrences from b in new[] { 1, 0 } where occ != occurrence || b != @base
             select new OpMutation(WrongFormat, o with { Name = OpenName(stem, occ, b) }))
            .Concat(rival?.Invoke(o, d) ?? []);

    // take(k) / skip(k) read as take(k + 1) or take(k - 1); skip(0) would just be the step left out.
    private static IEnumerable<OpMutation> OffByOneCount(Op o) =>
        new[] { o with { K = o.K + 1 }, o with { K = o.K - 1 } }.Where(m => m.K >= 1).Select(m => new OpMutation(OffByOne, m));

    private static char OtherLetter(Domain d, params char[] not) => d.Alphabet.First(ch => !not.Contains(ch));

    private static IEnumerable<OpSpec> Build() => NumberOps().Concat(ListOps()).Concat(TextOps());

    // ---- two integers a, b -> x -------------------------------------------------------------------------------------
    private static IEnumerable<OpSpec> NumberOps()
    {
        const Family F = Family.Numbers;
        static (long A, long B) P(object v) => ((long, long))v;

        OpSpec Start(string name, string py, string[] english, Func<long, long, long> f, params (MutationKind, string)[] bugs) => new()
        {
            Name = name, Family = F, Role = OpRole.Start, Sample = english.Length > 0 ? Plain(name) : null,
            Python = _ => py, English = english.Select(e => (Func<Op, string>)(_ => e)).ToArray(),
            Apply = (_, v) => f(P(v).A, P(v).B),
            Mutations = (_, _) => bugs.Select(b => new OpMutation(b.Item1, new Op(b.Item2))),
        };
        yield return Start("sum", "x = a + b", ["let x be the sum of a and b", "let x = a + b"], (a, b) => a + b, (WrongOperator, "diff"));
        yield return Start("diff", "x = a - b", ["let x = a - b", "let x be a minus b"], (a, b) => a - b, (WrongOrder, "rdiff"), (WrongOperator, "sum"));
        yield return Start("rdiff", "x = b - a", ["let x = b - a", "let x be b minus a"], (a, b) => b - a, (WrongOrder, "diff"));
        yield return Start("prod", "x = a * b", ["let x be the product of a and b", "let x = a * b"], (a, b) => a * b, (WrongOperator, "sum"));
        yield return Start("max", "x = max(a, b)", ["let x be the larger of a and b"], Math.Max, (WrongOperator, "min"));
        yield return Start("min", "x = min(a, b)", ["let x be the smaller of a and b"], Math.Min, (WrongOperator, "max"));

        OpSpec Step(string name, Func<Random, Domain, Op>? sample, Func<Op, string> py, Func<Op, string>[] english, Func<long, long, long> f,
            Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Step, Sample = sample, Python = py, English = english,
            Apply = (op, v) => f((long)v, op.K), Mutations = bugs ?? ((_, _) => []),
        };
        yield return Step("add", Const("add", 1, 9), o => $"x += {o.K}", [o => $"add {o.K} to x", o => $"increase x by {o.K}"], (x, k) => x + k,
            (o, _) => [new(WrongOperator, o with { Name = "sub" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Step("sub", Const("sub", 1, 9), o => $"x -= {o.K}", [o => $"subtract {o.K} from x", o => $"decrease x by {o.K}"], (x, k) => x - k,
            (o, _) => [new(WrongOperator, o with { Name = "add" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Step("mul", Const("mul", 2, 5), o => $"x *= {o.K}", [o => $"multiply x by {o.K}"], (x, k) => x * k,
            (o, _) => [new(WrongOperator, o with { Name = "add" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Step("div", Const("div", 2, 5), o => $"x //= {o.K}",
            [o => $"divide x by {o.K}, rounding down", o => $"replace x by floor(x / {o.K})"], FloorDiv,
            (o, _) => [new(MissingEdgeCase, o with { Name = "tdiv" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Step("tdiv", null, o => $"x = int(x / {o.K})", [], TruncDiv);
        yield return Step("mod", Const("mod", 2, 9), o => $"x %= {o.K}",
            [o => $"replace x by x mod {o.K} (a value from 0 to {o.K - 1})", o => $"replace x by the remainder of x divided by {o.K} (between 0 and {o.K - 1})"],
            FloorMod, (o, _) => [new(WrongOperator, o with { Name = "div" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Step("abs", Plain("abs"), _ => "x = abs(x)", [_ => "replace x by its absolute value", _ => "make x non-negative by dropping its sign"],
            (x, _) => Math.Abs(x));
        yield return Step("atleast", Const("atleast", -5, 20), o => $"x = max(x, {o.K})",
            [o => $"if x is less than {o.K}, set x to {o.K}", o => $"replace x by the larger of x and {o.K}"], Math.Max,
            (o, _) => [new(WrongOperator, o with { Name = "atmost" }), new(OffByOne, o with { K = o.K + 1 })]);
        yield return Step("atmost", Const("atmost", 0, 30), o => $"x = min(x, {o.K})",
            [o => $"if x is greater than {o.K}, set x to {o.K}", o => $"replace x by the smaller of x and {o.K}"], Math.Min,
            (o, _) => [new(WrongOperator, o with { Name = "atleast" }), new(OffByOne, o with { K = o.K - 1 })]);

        OpSpec Terminal(string name, Func<Random, Domain, Op>? sample, Func<Op, string> py, Func<Op, string>[] english, Func<long, long, string> f,
            Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Terminal, Sample = sample, Python = py, English = english,
            Apply = (op, v) => f((long)v, op.K), Mutations = bugs ?? ((_, _) => []),
        };
        yield return Terminal("print", Plain("print"), _ => "print(x)", [_ => "print x", _ => "output the final value of x"], (x, _) => Str(x));
        yield return Terminal("yes_gt", Const("yes_gt", 0, 20), o => $"print('YES' if x > {o.K} else 'NO')",
            [o => $"print YES if x is greater than {o.K} and NO otherwise", o => $"print YES if x > {o.K}, otherwise print NO"],
            (x, k) => x > k ? "YES" : "NO",
            (o, _) => [new(OffByOne, o with { Name = "yes_ge" }), new(WrongFormat, o with { Name = "bool_gt" })]);
        yield return Terminal("yes_ge", null, o => $"print('YES' if x >= {o.K} else 'NO')", [], (x, k) => x >= k ? "YES" : "NO");
        yield return Terminal("bool_gt", null, o => $"print(x > {o.K})", [], (x, k) => x > k ? "True" : "False");
        yield return Terminal("last_digit", Plain("last_digit"), _ => "print(abs(x) % 10)",
            [_ => "print the last digit of x (ignoring its sign)", _ => "print the last decimal digit of |x|"], (x, _) => Str(Math.Abs(x) % 10),
            (o, _) => [new(MissingEdgeCase, o with { Name = "last_digit_signed" })]);
        yield return Terminal("last_digit_signed", null, _ => "print(x % 10)", [], (x, _) => Str(FloorMod(x, 10)));
    }

    // ---- a list of integers -----------------------------------------------------------------------------------------
    private static IEnumerable<OpSpec> ListOps()
    {
        const Family F = Family.List;

        OpSpec Filter(string name, bool sampled, Func<Random, Domain, Op> sample, Func<Op, string> cond, Func<Op, string>[] english,
            Func<long, long, bool> keep, Func<Op, Domain, IEnumerable<OpMutation>> bugs) => new()
        {
            Name = name, Family = F, Role = OpRole.Step, Sample = sampled ? sample : null,
            Python = o => $"a = [x for x in a if {cond(o)}]", English = english,
            Apply = (op, v) => ((long[])v).Where(x => keep(x, op.K)).ToArray(), Mutations = bugs,
        };
        yield return Filter("keep_gt", true, Threshold("keep_gt"), o => $"x > {o.K}",
            [o => $"keep only the numbers greater than {o.K}", o => $"remove every number that is at most {o.K}"], (x, k) => x > k,
            (o, _) => [new(OffByOne, o with { Name = "keep_ge" }), new(WrongOperator, o with { Name = "keep_lt" })]);
        yield return Filter("keep_ge", true, Threshold("keep_ge"), o => $"x >= {o.K}",
            [o => $"keep only the numbers that are at least {o.K}", o => $"remove every number smaller than {o.K}"], (x, k) => x >= k,
            (o, _) => [new(OffByOne, o with { Name = "keep_gt" }), new(WrongOperator, o with { Name = "keep_le" })]);
        yield return Filter("keep_lt", true, Threshold("keep_lt"), o => $"x < {o.K}",
            [o => $"keep only the numbers less than {o.K}", o => $"remove every number that is at least {o.K}"], (x, k) => x < k,
            (o, _) => [new(OffByOne, o with { Name = "keep_le" }), new(WrongOperator, o with { Name = "keep_gt" })]);
        yield return Filter("keep_le", true, Threshold("keep_le"), o => $"x <= {o.K}",
            [o => $"keep only the numbers that are at most {o.K}", o => $"remove every number greater than {o.K}"], (x, k) => x <= k,
            (o, _) => [new(OffByOne, o with { Name = "keep_lt" }), new(WrongOperator, o with { Name = "keep_ge" })]);
        yield return Filter("keep_even", true, Plain("keep_even"), _ => "x % 2 == 0",
            [_ => "remove every odd number", _ => "keep only the even numbers"], (x, _) => FloorMod(x, 2) == 0,
            (o, _) => [new(WrongOperator, o with { Name = "keep_odd" })]);
        yield return Filter("keep_odd", true, Plain("keep_odd"), _ => "x % 2 == 1",
            [_ => "remove every even number", _ => "keep only the odd numbers"], (x, _) => FloorMod(x, 2) == 1,
            (o, _) => [new(WrongOperator, o with { Name = "keep_even" })]);
        yield return Filter("keep_div", true, Const("keep_div", 3, 5), o => $"x % {o.K} == 0",
            [o => $"keep only the multiples of {o.K}", o => $"remove every number that is not divisible by {o.K}"], (x, k) => FloorMod(x, k) == 0,
            (o, _) => [new(WrongOperator, o with { Name = "keep_ndiv" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Filter("keep_ndiv", false, Plain("keep_ndiv"), o => $"x % {o.K} != 0", [], (x, k) => FloorMod(x, k) != 0, (_, _) => []);
        yield return Filter("drop_eq", true, Threshold("drop_eq"), o => $"x != {o.K}",
            [o => $"remove every occurrence of {o.K}", o => $"delete all numbers equal to {o.K}"], (x, k) => x != k,
            (o, _) => [new(WrongConstant, o with { K = o.K + 1 })]);

        OpSpec Map(string name, Func<Random, Domain, Op>? sample, Func<Op, string> expr, Func<Op, string>[] english, Func<long, long, long> f,
            Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Step, Sample = sample,
            Python = o => $"a = [{expr(o)} for x in a]", English = english,
            Apply = (op, v) => ((long[])v).Select(x => f(x, op.K)).ToArray(), Mutations = bugs ?? ((_, _) => []),
        };
        yield return Map("add", Const("add", 1, 9), o => $"x + {o.K}", [o => $"add {o.K} to every number", o => $"increase each number by {o.K}"],
            (x, k) => x + k, (o, _) => [new(WrongOperator, o with { Name = "sub" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Map("sub", Const("sub", 1, 9), o => $"x - {o.K}", [o => $"subtract {o.K} from every number", o => $"decrease each number by {o.K}"],
            (x, k) => x - k, (o, _) => [new(WrongOperator, o with { Name = "add" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Map("mul", Const("mul", 2, 4), o => $"x * {o.K}", [o => $"multiply every number by {o.K}", o => $"replace each number x by {o.K}*x"],
            (x, k) => x * k, (o, _) => [new(WrongOperator, o with { Name = "add" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Map("div", Const("div", 2, 4), o => $"x // {o.K}",
            [o => $"divide every number by {o.K}, rounding down", o => $"replace each number x by floor(x / {o.K})"], FloorDiv,
            (o, _) => [new(MissingEdgeCase, o with { Name = "tdiv" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Map("tdiv", null, o => $"int(x / {o.K})", [], TruncDiv);
        yield return Map("mod", Const("mod", 2, 7), o => $"x % {o.K}",
            [o => $"replace every number x by x mod {o.K} (a value from 0 to {o.K - 1})"], FloorMod,
            (o, _) => [new(WrongOperator, o with { Name = "div" }), new(WrongConstant, o with { K = o.K + 1 })]);
        yield return Map("abs", Plain("abs"), _ => "abs(x)", [_ => "replace every number by its absolute value"], (x, _) => Math.Abs(x));
        yield return Map("neg", Plain("neg"), _ => "-x", [_ => "change the sign of every number", _ => "negate every number"], (x, _) => -x);

        OpSpec Reorder(string name, Func<Random, Domain, Op>? sample, Func<Op, string> py, Func<Op, string>[] english, Func<long[], long, long[]> f,
            bool reorders, Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Step, Sample = sample, Python = py, English = english,
            Apply = (op, v) => f((long[])v, op.K), Reorders = reorders, ReadsOrder = !reorders, Mutations = bugs ?? ((_, _) => []),
        };
        yield return Reorder("sort", Plain("sort"), _ => "a.sort()", [_ => "sort the numbers in non-decreasing order", _ => "sort the list in ascending order"],
            (a, _) => a.Order().ToArray(), true, (o, _) => [new(WrongOperator, o with { Name = "sort_desc" })]);
        yield return Reorder("sort_desc", Plain("sort_desc"), _ => "a.sort(reverse=True)",
            [_ => "sort the numbers in non-increasing order", _ => "sort the list in descending order"],
            (a, _) => a.OrderDescending().ToArray(), true, (o, _) => [new(WrongOperator, o with { Name = "sort" })]);
        yield return Reorder("reverse", Plain("reverse"), _ => "a.reverse()", [_ => "reverse the order of the numbers", _ => "reverse the list"],
            (a, _) => Enumerable.Reverse(a).ToArray(), true);
        yield return Reorder("rotate", Const("rotate", 1, 3), o => $"a = a[{o.K}:] + a[:{o.K}]",
            [o => $"move the first {Count(o.K, "number")} to the end in the same order (do nothing if there are fewer)"],
            RotateLeft, true, (o, _) => [new(WrongOrder, o with { Name = "rotate_right" }), new(OffByOne, o with { K = o.K + 1 })]);
        yield return Reorder("rotate_right", null, o => $"a = a[-{o.K}:] + a[:-{o.K}]", [], RotateRight, true);
        yield return Reorder("take", Const("take", 2, 4), o => $"a = a[:{o.K}]",
            [o => $"keep only the first {Count(o.K, "number")} (all if there are fewer)", o => $"delete everything after the first {Count(o.K, "number")}"],
            Take, false, (o, _) => OffByOneCount(o));
        yield return Reorder("skip", Const("skip", 1, 3), o => $"a = a[{o.K}:]",
            [o => $"remove the first {Count(o.K, "number")} (all if there are fewer)", o => $"delete the first {Count(o.K, "element")} of the list"],
            Drop, false, (o, _) => OffByOneCount(o));

        OpSpec Terminal(string name, bool sampled, string py, string[] english, Func<long[], string> f, bool readsOrder,
            params (MutationKind, string)[] bugs) => new()
        {
            Name = name, Family = F, Role = OpRole.Terminal, Sample = sampled ? Plain(name) : null, Python = _ => py,
            English = english.Select(e => (Func<Op, string>)(_ => e)).ToArray(), Apply = (_, v) => f((long[])v), ReadsOrder = readsOrder,
            Mutations = (_, _) => bugs.Select(b => new OpMutation(b.Item1, new Op(b.Item2))),
        };
        static long[] NonEmpty(long[] a) => a.Length > 0 ? a : throw new PythonWouldRaise("empty sequence");
        yield return Terminal("sum", true, "print(sum(a))", ["print the sum of the numbers (0 if none are left)"], a => Str(a.Sum()), false,
            (WrongOperator, "count"));
        yield return Terminal("count", true, "print(len(a))", ["print how many numbers are left", "print the number of remaining elements"],
            a => Str(a.Length), false, (WrongOperator, "sum"));
        yield return Terminal("max", true, "print(max(a) if a else 0)", ["print the largest number left, or 0 if none are left"],
            a => Str(a.Length > 0 ? a.Max() : 0), false, (WrongOperator, "min"), (MissingEdgeCase, "max_bare"));
        yield return Terminal("max_bare", false, "print(max(a))", [], a => Str(NonEmpty(a).Max()), false);
        yield return Terminal("min", true, "print(min(a) if a else 0)", ["print the smallest number left, or 0 if none are left"],
            a => Str(a.Length > 0 ? a.Min() : 0), false, (WrongOperator, "max"), (MissingEdgeCase, "min_bare"));
        yield return Terminal("min_bare", false, "print(min(a))", [], a => Str(NonEmpty(a).Min()), false);
        yield return Terminal("spread", true, "print(max(a) - min(a) if a else 0)",
            ["print the largest minus the smallest number left (0 if none are left)"],
            a => Str(a.Length > 0 ? a.Max() - a.Min() : 0), false, (MissingEdgeCase, "spread_bare"));
        yield return Terminal("spread_bare", false, "print(max(a) - min(a))", [], a => Str(NonEmpty(a).Max() - a.Min()), false);
        yield return Terminal("first", true, "print(a[0] if a else 0)", ["print the first number of the list, or 0 if it is empty"],
            a => Str(a.Length > 0 ? a[0] : 0), true, (WrongOperator, "last"), (MissingEdgeCase, "first_bare"));
        yield return Terminal("first_bare", false, "print(a[0])", [], a => Str(NonEmpty(a)[0]), true);
        yield return Terminal("last", true, "print(a[-1] if a else 0)", ["print the last number of the list, or 0 if it is empty"],
            a => Str(a.Length > 0 ? a[^1] : 0), true, (WrongOperator, "first"), (MissingEdgeCase, "last_bare"));
        yield return Terminal("last_bare", false, "print(a[-1])", [], a => Str(NonEmpty(a)[^1]), true);
        yield return Terminal("print", true, "print(*a)",
            ["print the numbers left, separated by spaces (an empty line if none)", "print the final list, space-separated"],
            a => string.Join(' ', a.Select(Str)), true, (WrongFormat, "print_repr"));
        yield return Terminal("print_repr", false, "print(a)", [], a => "[" + string.Join(", ", a.Select(Str)) + "]", true);

        // Positions of the largest / smallest number, counted from 1 (name) or from 0 (name + "0"); -1 for an empty list.
        IEnumerable<OpSpec> Position(string name, string pick, string english, Func<long[], long> best, string other)
        {
            foreach (int @base in new[] { 1, 0 })
            {
                string plus = @base == 1 ? " + 1" : "";
                yield return new OpSpec
                {
                    Name = BasedName(name, @base), Family = F, Role = OpRole.Terminal, Positional = true, Sample = @base == 1 ? Based(name, Plain(name)) : null,
                    Python = _ => $"print(a.index({pick}(a)){plus} if a else -1)", English = [_ => english],
                    Apply = (_, v) => (long[])v is { Length: > 0 } a ? Str(Array.IndexOf(a, best(a)) + @base) : "-1", ReadsOrder = true,
                    Mutations = PositionBugs(name, other, @base),
                };
            }
        }
        foreach (var spec in Position("argmax", "max", "print the position of the largest number left (the first one if there are several), or -1 if none are left", a => a.Max(), "argmin"))
            yield return spec;
        foreach (var spec in Position("argmin", "min", "print the position of the smallest number left (the first one if there are several), or -1 if none are left", a => a.Min(), "argmax"))
            yield return spec;

        // The same positions with open conventions: neither the base nor, among equal numbers, which one counts.
        IEnumerable<OpSpec> OpenPosition(string stem, string pick, string[] english, Func<long[], long> best, string rival)
        {
            foreach (string occurrence in Occurrences)
                foreach (int @base in new[] { 1, 0 })
                {
                    bool last = occurrence == "last";
                    // Two lines, one per convention, so that a repair changes one line (docs/mini.md, "Open conventions").
                    string index = last ? $"i = len(a) - 1 - a[::-1].index({pick}(a)) if a else -1" : $"i = a.index({pick}(a)) if a else -1";
                    string occ = occurrence;
                    int b = @base;
                    yield return new OpSpec
                    {
                        Name = OpenName(stem, occurrence, @base), Family = F, Role = OpRole.Terminal, Positional = true, OpenConventions = true,
                        Sample = !last && @base == 1 ? OpenSample(stem, Plain(stem)) : null,
                        Python = _ => index + "\n" + OpenPrint(b), English = english.Select(e => (Func<Op, string>)(_ => e)).ToArray(),
                        Apply = (_, v) => (long[])v is { Length: > 0 } a
                            ? Str((last ? Array.LastIndexOf(a, best(a)) : Array.IndexOf(a, best(a))) + b) : "-1",
                        ReadsOrder = true,
                        Mutations = ConventionBugs(stem, occ, b, (o, _) => [new(WrongOperator, o with { Name = OpenName(rival, occ, b) })]),
                    };
                }
        }
        foreach (var spec in OpenPosition("maxpos", "max", ["print the position of the largest number left, or -1 if none are left",
                     "print where the maximum of the remaining numbers stands (-1 if none are left)"], a => a.Max(), "minpos"))
            yield return spec;
        foreach (var spec in OpenPosition("minpos", "min", ["print the position of the smallest number left, or -1 if none are left",
                     "print where the minimum of the remaining numbers stands (-1 if none are left)"], a => a.Min(), "maxpos"))
            yield return spec;
    }

    // ---- a string ---------------------------------------------------------------------------------------------------
    private static IEnumerable<OpSpec> TextOps()
    {
        const Family F = Family.Text;

        OpSpec Step(string name, Func<Random, Domain, Op>? sample, Func<Op, string> py, Func<Op, string>[] english, Func<string, Op, string> f,
            bool reorders = false, bool readsOrder = false, Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Step, Sample = sample, Python = py, English = english,
            Apply = (op, v) => f((string)v, op), Reorders = reorders, ReadsOrder = readsOrder, Mutations = bugs ?? ((_, _) => []),
        };
        string Chars(char[] a) => new(a);
        yield return Step("reverse", Plain("reverse"), _ => "s = s[::-1]", [_ => "reverse s", _ => "write s backwards"],
            (s, _) => Chars(Enumerable.Reverse(s).ToArray()), reorders: true);
        yield return Step("replace", TwoLetters("replace"), o => $"s = s.replace('{o.C}', '{o.D}')",
            [o => $"replace every letter {o.C} in s by {o.D}", o => $"change each '{o.C}' into '{o.D}'"], (s, o) => s.Replace(o.C, o.D),
            bugs: (o, d) => [new(WrongOrder, o with { C = o.D, D = o.C }), new(WrongConstant, o with { D = OtherLetter(d, o.C, o.D) })]);
        yield return Step("remove", Letter("remove"), o => $"s = s.replace('{o.C}', '')",
            [o => $"delete every letter {o.C} from s", o => $"erase all occurrences of '{o.C}'"], (s, o) => s.Replace(o.C.ToString(), ""),
            bugs: (o, d) => [new(WrongConstant, o with { C = OtherLetter(d, o.C) })]);
        yield return Step("rotate", Const("rotate", 1, 3), o => $"s = s[{o.K}:] + s[:{o.K}]",
            [o => $"move the first {Count(o.K, "letter")} of s to its end (do nothing if s is shorter)"],
            (s, o) => Chars(RotateLeft(s.ToCharArray(), o.K)), reorders: true,
            bugs: (o, _) => [new(WrongOrder, o with { Name = "rotate_right" }), new(OffByOne, o with { K = o.K + 1 })]);
        yield return Step("rotate_right", null, o => $"s = s[-{o.K}:] + s[:-{o.K}]", [], (s, o) => Chars(RotateRight(s.ToCharArray(), o.K)), reorders: true);
        yield return Step("take", Const("take", 2, 5), o => $"s = s[:{o.K}]",
            [o => $"keep only the first {Count(o.K, "letter")} of s", o => $"cut s after its first {Count(o.K, "letter")}"], (s, o) => Chars(Take(s.ToCharArray(), o.K)),
            readsOrder: true, bugs: (o, _) => OffByOneCount(o));
        yield return Step("skip", Const("skip", 1, 3), o => $"s = s[{o.K}:]",
            [o => $"delete the first {Count(o.K, "letter")} of s"], (s, o) => Chars(Drop(s.ToCharArray(), o.K)),
            readsOrder: true, bugs: (o, _) => OffByOneCount(o));
        yield return Step("stretch", Const("stretch", 2, 3), o => $"s = ''.join(c * {o.K} for c in s)",
            [o => $"write every letter of s {o.K} times in a row", o => $"repeat each letter of s {o.K} times (ab becomes {new string('a', (int)o.K)}{new string('b', (int)o.K)})"],
            (s, o) => string.Concat(s.Select(c => new string(c, (int)o.K))),
            bugs: (o, _) => [new(WrongOperator, o with { Name = "repeat" })]);
        yield return Step("repeat", null, o => $"s = s * {o.K}", [], (s, o) => string.Concat(Enumerable.Repeat(s, (int)o.K)));

        OpSpec Terminal(string name, Func<Random, Domain, Op>? sample, Func<Op, string> py, Func<Op, string>[] english, Func<string, Op, string> f,
            bool readsOrder, Func<Op, Domain, IEnumerable<OpMutation>>? bugs = null) => new()
        {
            Name = name, Family = F, Role = OpRole.Terminal, Sample = sample, Python = py, English = english,
            Apply = (op, v) => f((string)v, op), ReadsOrder = readsOrder, Mutations = bugs ?? ((_, _) => []),
        };
        yield return Terminal("print", Plain("print"), _ => "print(s)", [_ => "print s (an empty line if it is empty)", _ => "print the resulting string"],
            (s, _) => s, true);
        yield return Terminal("length", Plain("length"), _ => "print(len(s))", [_ => "print the length of s", _ => "print how many letters s has"],
            (s, _) => Str(s.Length), false, (o, _) => [new(WrongOperator, o with { Name = "distinct" })]);
        yield return Terminal("count", Letter("count"), o => $"print(s.count('{o.C}'))",
            [o => $"print how many letters {o.C} s contains", o => $"print the number of occurrences of '{o.C}' in s"],
            (s, o) => Str(s.Count(c => c == o.C)), false, (o, d) => [new(WrongConstant, o with { C = OtherLetter(d, o.C) })]);
        yield return Terminal("distinct", Plain("distinct"), _ => "print(len(set(s)))", [_ => "print the number of distinct letters in s"],
            (s, _) => Str(s.Distinct().Count()), false, (o, _) => [new(WrongOperator, o with { Name = "length" })]);
        yield return Terminal("find", Letter("find"), o => $"print(s.find('{o.C}'))",
            [o => $"print the 0-based index of the first {o.C} in s, or -1 if there is none"],
            (s, o) => Str(s.IndexOf(o.C)), true,
            (o, _) => [new(WrongOperator, o with { Name = "rfind" }), new(OffByOne, o with { Name = "find1" }), new(MissingEdgeCase, o with { Name = "index" })]);
        yield return Terminal("rfind", null, o => $"print(s.rfind('{o.C}'))", [], (s, o) => Str(s.LastIndexOf(o.C)), true);
        yield return Terminal("find1", null, o => $"print(s.find('{o.C}') + 1)", [], (s, o) => Str(s.IndexOf(o.C) + 1), true);
        yield return Terminal("index", null, o => $"print(s.index('{o.C}'))", [],
            (s, o) => s.IndexOf(o.C) is var i and >= 0 ? Str(i) : throw new PythonWouldRaise("substring not found"), true);
        yield return Terminal("palindrome", Plain("palindrome"), _ => "print('YES' if s == s[::-1] else 'NO')",
            [_ => "print YES if s is a palindrome, otherwise NO", _ => "print YES if s reads the same backwards, otherwise NO"],
            (s, _) => s.SequenceEqual(Enumerable.Reverse(s)) ? "YES" : "NO", true, (o, _) => [new(WrongFormat, o with { Name = "palindrome_bool" })]);
        yield return Terminal("palindrome_bool", null, _ => "print(s == s[::-1])", [], (s, _) => s.SequenceEqual(Enumerable.Reverse(s)) ? "True" : "False", true);

        // Positions of the first / last occurrence of a letter, counted from 1 (name) or from 0 (name + "0"); -1 if absent.
        IEnumerable<OpSpec> Position(string name, string find, string which, Func<string, char, int> index, string other)
        {
            foreach (int @base in new[] { 1, 0 })
            {
                yield return new OpSpec
                {
                    Name = BasedName(name, @base), Family = F, Role = OpRole.Terminal, Positional = true, Sample = @base == 1 ? Based(name, Letter(name)) : null,
                    Python = o => @base == 1 ? $"print(s.{find}('{o.C}') + 1 if '{o.C}' in s else -1)" : $"print(s.{find}('{o.C}'))",
                    English = [o => $"print the position of the {which} {o.C} in s, or -1 if there is none"],
                    Apply = (op, v) => index((string)v, op.C) is var i and >= 0 ? Str(i + @base) : "-1", ReadsOrder = true,
                    Mutations = PositionBugs(name, other, @base),
                };
            }
        }
        foreach (var spec in Position("pos", "find", "first", (s, c) => s.IndexOf(c), "rpos"))
            yield return spec;
        foreach (var spec in Position("rpos", "rfind", "last", (s, c) => s.LastIndexOf(c), "pos"))
            yield return spec;

        // The position of a letter with open conventions: neither the base nor, if it occurs more than once, which one.
        foreach (string occurrence in Occurrences)
            foreach (int @base in new[] { 1, 0 })
            {
                bool last = occurrence == "last";
                string find = last ? "rfind" : "find";
                string occ = occurrence;
                int b = @base;
                yield return new OpSpec
                {
                    Name = OpenName("letterpos", occurrence, @base), Family = F, Role = OpRole.Terminal, Positional = true, OpenConventions = true,
                    Sample = !last && @base == 1 ? OpenSample("letterpos", Letter("letterpos")) : null,
                    Python = o => $"i = s.{find}('{o.C}')\n" + OpenPrint(b),
                    English = [o => $"print the position of the letter {o.C} in s, or -1 if there is none", o => $"print where {o.C} occurs in s (-1 if it does not)"],
                    Apply = (op, v) => (last ? ((string)v).LastIndexOf(op.C) : ((string)v).IndexOf(op.C)) is var i and >= 0 ? Str(i + b) : "-1",
                    ReadsOrder = true,
                    Mutations = ConventionBugs("letterpos", occ, b, (o, d) => [new(WrongConstant, o with { C = OtherLetter(d, o.C) })]),
                };
            }
    }
}
