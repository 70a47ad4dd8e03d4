namespace Rlef.Environment.Problems;

/// <summary>The one entry point from a dataset name and a file to problems.</summary>
public static class DatasetLoader
{
    /// <summary>The file's problems; <paramref name="notes"/> receives what the loader said about the file (a record
    /// that repeats an earlier one exactly is kept once).</summary>
    public static IReadOnlyList<Problem> Load(ProblemFamily family, string path, ICollection<string>? notes = null,
        LiveCodeBenchSelection? liveCodeBench = null) => family switch
    {
        ProblemFamily.LiveCodeBench => LiveCodeBenchLoader.Load(path, liveCodeBench),
        ProblemFamily.CodeContests => CodeContestsLoader.Load(path, notes),
        ProblemFamily.Apps => AppsLoader.Load(path, notes),
        ProblemFamily.HumanEval => FunctionBenchmarkLoader.LoadHumanEval(path, plus: false, notes),
        ProblemFamily.HumanEvalPlus => FunctionBenchmarkLoader.LoadHumanEval(path, plus: true, notes),
        ProblemFamily.Mbpp => FunctionBenchmarkLoader.LoadMbpp(path, plus: false, notes),
        ProblemFamily.MbppPlus => FunctionBenchmarkLoader.LoadMbpp(path, plus: true, notes),
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>The files a data path stands for (a folder of LiveCodeBench releases is several), in load order.</summary>
    public static IReadOnlyList<string> Files(ProblemFamily family, string path, LiveCodeBenchSelection? liveCodeBench = null) =>
        family == ProblemFamily.LiveCodeBench ? LiveCodeBenchLoader.Files(path, liveCodeBench?.Release) : [path];

    /// <summary>Whether the family's private tests need expected values computed from the canonical solution.</summary>
    public static bool NeedsExpectedValues(ProblemFamily family) => family is ProblemFamily.HumanEvalPlus or ProblemFamily.MbppPlus;
}
