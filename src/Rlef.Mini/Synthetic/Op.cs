namespace Rlef.Mini.Synthetic;

// The vocabulary of generated problems: a problem is a chain of parametrised operations over one of three kinds of
// input (two integers, a list of integers, a string). Each operation knows how to evaluate itself in C#, how to
// write itself as one line of Python and how to describe itself in English; OpCatalog holds them.

/// <summary>The kind of value a problem's test case holds.</summary>
public enum Family
{
    /// <summary>Two integers a and b folded into one number x.</summary>
    Numbers,
    /// <summary>A list of n integers.</summary>
    List,
    /// <summary>A string over a small lowercase alphabet.</summary>
    Text,
}

/// <summary>Where an operation may stand in a chain.</summary>
public enum OpRole
{
    /// <summary>Numbers only: combines a and b into x; always first.</summary>
    Start,
    /// <summary>Transforms the value.</summary>
    Step,
    /// <summary>Produces the printed answer; always last.</summary>
    Terminal,
}

/// <summary>The kind of bug an incorrect solution carries.</summary>
public enum MutationKind
{
    OffByOne,
    WrongConstant,
    WrongOperator,
    WrongOrder,
    MissingStep,
    MissingEdgeCase,
    WrongFormat,
}

/// <summary>
/// One operation with its parameters: <see cref="K"/> a number, <see cref="C"/> and <see cref="D"/> letters
/// (unused ones stay at their defaults). <see cref="Name"/> selects the <see cref="OpSpec"/> within the family.
/// </summary>
public sealed record Op(string Name, long K = 0, char C = '\0', char D = '\0')
{
    /// <summary>Whether <see cref="K"/> is a parameter of this op (so that a zero still shows in <see cref="Key"/>).</summary>
    public bool HasK { get; init; }

    /// <summary>Canonical form, e.g. <c>keep_gt(3)</c> or <c>replace(a,c)</c>: two ops with the same key behave alike.</summary>
    public string Key
    {
        get
        {
            var args = new List<string>();
            if (K != 0 || HasK) args.Add(K.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (C != '\0') args.Add(C.ToString());
            if (D != '\0') args.Add(D.ToString());
            return args.Count == 0 ? Name : $"{Name}({string.Join(',', args)})";
        }
    }

    public override string ToString() => Key;
}

/// <summary>Thrown by an operation's C# evaluation where the Python line would raise (e.g. max() of an empty list).</summary>
public sealed class PythonWouldRaise(string message) : Exception(message);

/// <summary>The value range, alphabet and sizes one problem's inputs are drawn from (stated in its Input section).</summary>
public sealed record Domain(long Lo, long Hi, string Alphabet, int MaxLength)
{
    public bool HasNegatives => Lo < 0;
}

/// <summary>A mutation of one op: the op that replaces it and why it is wrong.</summary>
public sealed record OpMutation(MutationKind Kind, Op Replacement);

/// <summary>
/// Everything known about one operation. <see cref="Apply"/> maps the C# value (long[] for lists, string for text,
/// long for numbers; (long, long) into a Start op) to the next value, or, for a terminal, to the printed line.
/// </summary>
public sealed record OpSpec
{
    public required string Name { get; init; }
    public required Family Family { get; init; }
    public required OpRole Role { get; init; }

    /// <summary>Draws the parameters for a reference chain; null = the op exists only as a mutant (never sampled).</summary>
    public Func<Random, Domain, Op>? Sample { get; init; }

    public required Func<Op, string> Python { get; init; }

    /// <summary>English variants: an imperative clause for steps ("add 3 to x"), a "print ..." clause for terminals.</summary>
    public Func<Op, string>[] English { get; init; } = [];

    public required Func<Op, object, object> Apply { get; init; }

    public Func<Op, Domain, IEnumerable<OpMutation>> Mutations { get; init; } = (_, _) => [];

    /// <summary>Only reorders the elements: pointless unless something later reads the order.</summary>
    public bool Reorders { get; init; }

    /// <summary>Its result depends on the elements' order (e.g. "print the first element", "keep the first k").</summary>
    public bool ReadsOrder { get; init; }

    /// <summary>
    /// A terminal that prints a position without the statement saying whether positions count from 0 or from 1: only
    /// the examples show it. Drawn only with <see cref="Difficulty.PositionProbability"/>, never among the other terminals.
    /// </summary>
    public bool Positional { get; init; }

    /// <summary>
    /// A positional terminal whose statement states neither the base nor which occurrence counts when several
    /// qualify (the first or the last largest number, the first or the last letter c). The shown examples settle the
    /// base at most; a public test kept out of the statement settles the occurrence, so only the feedback of a
    /// failing program reveals it (<c>docs/mini.md</c>, "Open conventions"). Drawn only with
    /// <see cref="Difficulty.OpenConventionProbability"/>.
    /// </summary>
    public bool OpenConventions { get; init; }
}
