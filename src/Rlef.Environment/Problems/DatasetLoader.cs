namespace Rlef.Environment.Problems;

/// <summary>The one entry point from a dataset name and a file to problems.</summary>
public static class DatasetLoader
{
    public static IReadOnlyList<Problem> Load(ProblemFamily family, string path) => family switch
    {
        ProblemFamily.CodeContests => CodeContestsLoader.Load(path),
        ProblemFamily.Apps => AppsLoader.Load(path),
        ProblemFamily.HumanEval => FunctionBenchmarkLoader.LoadHumanEval(path, plus: false),
        ProblemFamily.HumanEvalPlus => FunctionBenchmarkLoader.LoadHumanEval(path, plus: true),
        ProblemFamily.Mbpp => FunctionBenchmarkLoader.LoadMbpp(path, plus: false),
        ProblemFamily.MbppPlus => FunctionBenchmarkLoader.LoadMbpp(path, plus: true),
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>Whether the family's private tests need expected values computed from the canonical solution.</summary>
    public static bool NeedsExpectedValues(ProblemFamily family) => family is ProblemFamily.HumanEvalPlus or ProblemFamily.MbppPlus;
}
