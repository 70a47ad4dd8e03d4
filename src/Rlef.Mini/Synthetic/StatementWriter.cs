using System.Text;

namespace Rlef.Mini.Synthetic;

/// <summary>
/// Writes a problem statement in the CodeContests layout (task, Input, Output, Examples). The English is templated
/// with a few variants per sentence so that a small model must read the numbers rather than memorise a wording.
/// ASCII only: the policy's tokenizer is byte-level and every byte is context.
/// </summary>
public static class StatementWriter
{
    /// <summary>The statement without its examples.</summary>
    public static string Task(OpChain chain, Domain domain, Random rng)
    {
        var text = new StringBuilder();
        text.Append(Pick(rng, Intro(chain.Family))).Append(' ');
        var clauses = chain.Specs.Zip(chain.Ops, (spec, op) => Pick(rng, spec.English)(op)).ToList();
        string[] middle = ["Then", "After that,", "Next,"];
        string previous = "";
        string Connector()
        {
            // Never the same connector twice in a row ("Next, ... Next, ...").
            var options = middle.Where(m => m != previous).ToArray();
            return previous = Pick(rng, options);
        }
        for (int i = 0; i < clauses.Count; i++)
        {
            string sentence = i == 0 && clauses.Count > 1 ? $"First, {clauses[i]}."
                : i == clauses.Count - 1 && clauses.Count > 1 ? $"Finally, {clauses[i]}."
                : i == 0 ? Capitalise(clauses[i]) + "."
                : $"{Connector()} {clauses[i]}.";
            text.Append(sentence).Append(i + 1 < clauses.Count ? " " : "");
        }
        text.Append("\n\nInput\n\n").Append(InputSection(chain, domain));
        text.Append("\n\nOutput\n\n").Append(chain.MultiCase ? "Print the answer for each test case on its own line." : "Print the answer.");
        return text.ToString();
    }

    /// <summary>The full description: the task followed by its examples (the public tests).</summary>
    public static string Description(string task, IReadOnlyList<SyntheticTest> examples)
    {
        var text = new StringBuilder(task);
        text.Append(examples.Count == 1 ? "\n\nExample\n" : "\n\nExamples\n");
        foreach (var e in examples)
            text.Append("\nInput\n\n").Append(e.Input).Append("\nOutput\n\n").Append(e.Output);
        return text.ToString().TrimEnd('\n') + "\n";
    }

    private static string[] Intro(Family family) => family switch
    {
        Family.Numbers => ["You are given two integers a and b.", "Two integers a and b are given."],
        Family.List => ["You are given a list of n integers.", "You are given an array a of n integers.", "There are n integers written on a board."],
        Family.Text => ["You are given a string s.", "You are given a word s."],
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    private static string InputSection(OpChain chain, Domain d)
    {
        string letters = d.Alphabet.Length > 0 ? $"{d.Alphabet[0]} to {d.Alphabet[^1]}" : "";
        if (!chain.MultiCase)
            return chain.Family switch
            {
                Family.Numbers => $"One line with two integers a and b ({d.Lo} <= a, b <= {d.Hi}).",
                Family.List => $"The first line contains n (1 <= n <= {d.MaxLength}), the second n integers from {d.Lo} to {d.Hi}.",
                Family.Text => $"One line with s (1 <= |s| <= {d.MaxLength}), made of letters {letters}.",
                _ => throw new ArgumentOutOfRangeException(nameof(chain)),
            };
        string each = chain.Family switch
        {
            Family.Numbers => $"Each of the next t lines contains a and b ({d.Lo} <= a, b <= {d.Hi}).",
            Family.List => $"Each test case is a line with n (1 <= n <= {d.MaxLength}) and a line with n integers from {d.Lo} to {d.Hi}.",
            Family.Text => $"Each of the next t lines contains s (1 <= |s| <= {d.MaxLength}), made of letters {letters}.",
            _ => throw new ArgumentOutOfRangeException(nameof(chain)),
        };
        return $"The first line contains t (1 <= t <= {MaxCases}), the number of test cases. {each}";
    }

    internal const int MaxCases = 5;

    /// <summary>Statement length (without examples) the generator aims for, and the most it accepts.</summary>
    public const int TargetLength = 400, MaxLength = 450;

    private static string Capitalise(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static T Pick<T>(Random rng, IReadOnlyList<T> options) => options[rng.Next(options.Count)];
}
