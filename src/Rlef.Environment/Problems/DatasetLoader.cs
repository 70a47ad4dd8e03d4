namespace Rlef.Environment.Problems;

/// <summary>The one entry point from a dataset name and a file to problems.</summary>
public static class DatasetLoader
{
    public static IReadOnlyList<Problem> Load(ProblemFamily family, string path, LiveCodeBenchSelection? liveCodeBench = null) => family switch
    {
        ProblemFamily.LiveCodeBench => LiveCodeBenchLoader.Load(path, liveCodeBench),
        ProblemFamily.CodeContests => CodeContestsLoader.Load(path),
        ProblemFamily.Apps => AppsLoader.Load(path),
        ProblemFamily.HumanEval => FunctionBenchmarkLoader.LoadHumanEval(path, plus: false),
        ProblemFamily.HumanEvalPlus => FunctionBenchmarkLoader.LoadHumanEval(path, plus: true),
        ProblemFamily.Mbpp => FunctionBenchmarkLoader.LoadMbpp(path, plus: false),
        ProblemFamily.MbppPlus => FunctionBenchmarkLoader.LoadMbpp(path, plus: true),
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>The files a data path stands for (a folder of LiveCodeBench releases is several), in load order.</summary>
    public static IReadOnlyList<string> Files(ProblemFamily family, string path, LiveCodeBenchSelection? liveCodeBench = null) =>
        family == ProblemFamily.LiveCodeBench ? LiveCodeBenchLoader.Files(path, liveCodeBench?.Release) : [path];

    /// <summary>Whether the family's private tests need expected values computed from the canonical solution.</summary>
    public static bool NeedsExpectedValues(ProblemFamily family) => family is ProblemFamily.HumanEvalPlus or ProblemFamily.MbppPlus;
}
