using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;
using Rlef.Sandbox;

namespace Rlef.Environment.Problems;

/// <summary>
/// Which LiveCodeBench problems to load: a release (the files of the Hugging Face dataset
/// livecodebench/code_generation_lite) and a contest-date window, both as LiveCodeBench's own runner applies them.
/// </summary>
public sealed record LiveCodeBenchSelection
{
    /// <summary>`release_vN` (test.jsonl … testN.jsonl), `vN` (that release's new file only), `vA_vB` (the files of
    /// releases A to B), or `release_latest` (every release file present). Applies to a folder of release files.</summary>
    public string? Release { get; init; }

    /// <summary>Keep problems with contest_date ≥ this day at 00:00 (LiveCodeBench's --start_date).</summary>
    public DateOnly? Since { get; init; }

    /// <summary>Keep problems with contest_date ≤ this day at 00:00 (LiveCodeBench's --end_date, same comparison).</summary>
    public DateOnly? Until { get; init; }
}

/// <summary>
/// LiveCodeBench code-generation release files (JSONL; docs/datasets.md "LiveCodeBench" has the schema and the
/// choices). Stdin problems (AtCoder, Codeforces) are stdio tests compared as LiveCodeBench compares them; functional
/// problems (LeetCode, `metadata.func_name`) call the method of `class Solution` with the test's arguments, one JSON
/// value per input line, and compare the returned value. `private_test_cases` is JSON or base64(zlib(pickle(JSON
/// string))), the latter read by <see cref="PickledString"/>, which accepts nothing but a pickled str.
/// </summary>
public static partial class LiveCodeBenchLoader
{
    /// <summary>The release files: release N added testN.jsonl (test.jsonl for the first).</summary>
    public static readonly IReadOnlyList<string> ReleaseFiles = ["test.jsonl", "test2.jsonl", "test3.jsonl", "test4.jsonl", "test5.jsonl", "test6.jsonl"];

    /// <summary>LeetCode's instruction for its starter code, as LiveCodeBench's prompt words it.</summary>
    public const string StarterCodeInstruction =
        "You will use the following starter code to write the solution to the problem and enclose your code within delimiters.";

    /// <summary>
    /// LiveCodeBench's harness runs every program after these imports (its `import_string`), so code that uses
    /// `List[int]` from the LeetCode starter without importing it passes there; they are one line, so the episode
    /// shifts the line numbers of tracebacks back by one (<see cref="Problem.CodePrefix"/>).
    /// </summary>
    public const string HarnessImports =
        "from string import *; from re import *; from datetime import *; from collections import *; from heapq import *; " +
        "from bisect import *; from copy import *; from math import *; from random import *; from statistics import *; " +
        "from itertools import *; from functools import *; from operator import *; from io import *; from sys import *; " +
        "from json import *; from builtins import *; from typing import *; import string, re, datetime, collections, heapq, " +
        "bisect, copy, math, random, statistics, itertools, functools, operator, io, sys, json; sys.setrecursionlimit(50000)\n";

    /// <summary>The function call tests call: the LeetCode method on a new Solution, or a module-level function.</summary>
    public const string CallEntry = "__rlef_lcb_call";

    public static IReadOnlyList<Problem> Load(string path, LiveCodeBenchSelection? selection = null)
    {
        selection ??= new LiveCodeBenchSelection();
        var problems = new List<Problem>();
        foreach (string file in Files(path, selection.Release))
            foreach (var record in DataFile.ReadRecords(file))
            {
                var date = ContestDate(record);
                if (selection.Since is DateOnly since && date < since.ToDateTime(TimeOnly.MinValue))
                    continue;
                if (selection.Until is DateOnly until && date > until.ToDateTime(TimeOnly.MinValue))
                    continue;
                problems.Add(FromRecord(record));
            }
        return problems;
    }

    /// <summary>The files a path and a release name stand for: the path itself, or the release's files in a folder.</summary>
    public static IReadOnlyList<string> Files(string path, string? release)
    {
        if (!Directory.Exists(path))
        {
            if (release is not null)
                throw new ArgumentException($"--release picks files in a folder of LiveCodeBench release files; {path} is a file");
            return [path];
        }
        var names = ReleaseFileNames(release ?? "release_latest");
        var present = names.Select(n => Path.Combine(path, n)).Where(File.Exists).ToList();
        if (release is null || release == "release_latest")
        {
            if (present.Count == 0)
                throw new FileNotFoundException($"{path}: no LiveCodeBench release files ({string.Join(", ", ReleaseFiles)})");
            return present;
        }
        var missing = names.Where(n => !File.Exists(Path.Combine(path, n))).ToList();
        if (missing.Count > 0)
            throw new FileNotFoundException($"{path}: {release} needs {string.Join(", ", missing)} (rlef data fetch livecodebench gets them)");
        return present;
    }

    /// <summary>release_vN, vN, vA_vB or release_latest, as LiveCodeBench's --release_version names them.</summary>
    public static IReadOnlyList<string> ReleaseFileNames(string release)
    {
        if (release == "release_latest")
            return ReleaseFiles;
        var m = ReleasePattern().Match(release);
        if (!m.Success)
            throw new ArgumentException($"unknown LiveCodeBench release '{release}' (expected release_v1..release_v{ReleaseFiles.Count}, v1..v{ReleaseFiles.Count}, vA_vB or release_latest)");
        int Version(Group g) => int.Parse(g.Value, CultureInfo.InvariantCulture);
        int first, last;
        if (m.Groups["cumulative"].Success)
            (first, last) = (1, Version(m.Groups["cumulative"]));
        else if (m.Groups["to"].Success)
            (first, last) = (Version(m.Groups["from"]), Version(m.Groups["to"]));
        else
            first = last = Version(m.Groups["from"]);
        if (first < 1 || last > ReleaseFiles.Count || first > last)
            throw new ArgumentException($"LiveCodeBench release '{release}' is outside v1..v{ReleaseFiles.Count}");
        return ReleaseFiles.Skip(first - 1).Take(last - first + 1).ToList();
    }

    private static DateTime ContestDate(DataRecord r)
    {
        string text = r.RequiredString("contest_date");
        return DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AllowWhiteSpaces | DateTimeStyles.RoundtripKind, out var date)
            ? date
            : throw r.Error("contest_date", $"not an ISO date: '{text}'");
    }

    private static Problem FromRecord(DataRecord r)
    {
        string id = r.RequiredString("question_id");
        string content = r.RequiredString("question_content");
        string starter = r.OptionalString("starter_code") ?? "";
        string? function = FunctionName(r);
        var publicTests = Tests(r, "public_test_cases", TestList(r, "public_test_cases", r.RequiredString("public_test_cases")), function);
        var privateTests = Tests(r, "private_test_cases", PrivateTestList(r), function);
        string statement = starter.Trim().Length == 0
            ? content
            : content.TrimEnd('\n') + "\n\n" + StarterCodeInstruction + "\n```python\n" + starter.TrimEnd('\n') + "\n```";
        return new Problem
        {
            Id = id,
            Family = ProblemFamily.LiveCodeBench,
            Statement = statement,
            EntryPoint = function,
            PublicTests = publicTests,
            PrivateTests = privateTests,
            CodePrefix = HarnessImports,
            CodeSuffix = function is null ? "" : CallDriver(function),
            Comparison = Comparison.LiveCodeBench,
        };
    }

    /// <summary>`metadata` is a JSON string (or an object) with `func_name` for functional problems.</summary>
    private static string? FunctionName(DataRecord r)
    {
        if (!r.Json.TryGetProperty("metadata", out _))
            return null;
        var metadata = r.JsonOrEmbedded("metadata");
        if (metadata.ValueKind == JsonValueKind.Null)
            return null;
        if (metadata.ValueKind != JsonValueKind.Object)
            throw r.Error("metadata", $"expected a JSON object, found {DataRecord.Describe(metadata.ValueKind)}");
        if (!metadata.TryGetProperty("func_name", out var name) || name.ValueKind == JsonValueKind.Null)
            return null;
        string text = name.ValueKind == JsonValueKind.String ? name.GetString()! : throw r.Error("metadata.func_name", "expected a string");
        return Identifier().IsMatch(text) ? text : throw r.Error("metadata.func_name", $"'{text}' is not a Python identifier");
    }

    /// <summary>A JSON string, or base64 of zlib of a pickled JSON string (LiveCodeBench's code_generation_lite).</summary>
    private static JsonElement PrivateTestList(DataRecord r)
    {
        const string field = "private_test_cases";
        string text = r.RequiredString(field);
        if (text.TrimStart().StartsWith('['))
            return TestList(r, field, text);
        byte[] compressed;
        try { compressed = Convert.FromBase64String(text); }
        catch (FormatException) { throw r.Error(field, "neither a JSON list nor base64 (of zlib-compressed pickled JSON)"); }
        byte[] pickle;
        try
        {
            using var zlib = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            zlib.CopyTo(buffer);
            pickle = buffer.ToArray();
        }
        catch (InvalidDataException e) { throw r.Error(field, $"base64 but not zlib-compressed: {e.Message}"); }
        string json;
        try { json = PickledString.Read(pickle); }
        catch (UnsupportedPickleException e) { throw r.Error(field, $"refused pickle: {e.Message}"); }
        return TestList(r, field, json);
    }

    private static JsonElement TestList(DataRecord r, string field, string json)
    {
        JsonElement list;
        try { list = JsonDocument.Parse(json, DataRecord.ReadOptions).RootElement.Clone(); }
        catch (JsonException e) { throw r.Error(field, $"not valid JSON: {e.Message}"); }
        return list.ValueKind == JsonValueKind.Array ? list : throw r.Error(field, $"expected a list of tests, found {DataRecord.Describe(list.ValueKind)}");
    }

    private static List<ProblemTest> Tests(DataRecord r, string field, JsonElement list, string? function)
    {
        var tests = new List<ProblemTest>();
        foreach (var item in list.EnumerateArray())
        {
            string where = $"{field}[{tests.Count}]";
            string input = Member(r, item, where, "input");
            string output = Member(r, item, where, "output");
            string type = Member(r, item, where, "testtype");
            var test = (type, function) switch
            {
                ("stdin", _) => TestCase.Stdio(input, output),
                ("functional", not null) => CallTest(r, where, input, output),
                ("functional", null) => throw r.Error(where + ".testtype", "a functional test, but metadata has no func_name"),
                _ => throw r.Error(where + ".testtype", $"expected \"stdin\" or \"functional\", found \"{type}\""),
            };
            tests.Add(new ProblemTest(test, input) { Origin = where });
        }
        return tests;
    }

    private static string Member(DataRecord r, JsonElement item, string where, string name)
    {
        if (item.ValueKind != JsonValueKind.Object)
            throw r.Error(where, "expected {\"input\", \"output\", \"testtype\"}");
        return item.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw r.Error($"{where}.{name}", "missing or not a string");
    }

    /// <summary>LiveCodeBench parses each input line with json.loads as one argument, and the output as the value.</summary>
    private static TestCase CallTest(DataRecord r, string where, string input, string output)
    {
        var arguments = new List<string>();
        foreach (string line in input.Split('\n'))
        {
            ParseJson(r, $"{where}.input line {arguments.Count + 1}", line);
            arguments.Add(line);
        }
        var expected = ParseJson(r, $"{where}.output", output);
        return TestCase.Call(CallEntry, "[" + string.Join(", ", arguments) + "]", AppsLoader.PythonRepr(expected));
    }

    private static JsonElement ParseJson(DataRecord r, string where, string text)
    {
        try { return JsonDocument.Parse(text, DataRecord.ReadOptions).RootElement.Clone(); }
        catch (JsonException e)
        {
            try { return JsonDocument.Parse(PythonJson.ProtectNonFinite(text), DataRecord.ReadOptions).RootElement.Clone(); }
            catch (JsonException) { throw r.Error(where, $"not valid JSON: {e.Message}"); }
        }
    }

    /// <summary>
    /// As LiveCodeBench's harness: the method of a Solution instance when the code defines one, else a module-level
    /// function of that name; a returned tuple counts as a list (the expected values are JSON lists).
    /// </summary>
    private static string CallDriver(string function) => $$"""


        def {{CallEntry}}(*args):
            owner = globals().get("Solution")
            fn = getattr(owner(), "{{function}}") if owner is not None else globals()["{{function}}"]
            result = fn(*args)
            return list(result) if type(result) is tuple else result
        """;

    [GeneratedRegex(@"^(release_v(?<cumulative>\d+)|v(?<from>\d+)(_v(?<to>\d+))?)$")]
    private static partial Regex ReleasePattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Identifier();
}
