namespace Rlef.Environment.Problems;

/// <summary>
/// MBPP+ stores every input as JSON, so tuples, sets and complex numbers arrive as lists and strings. evalplus
/// restores them per task before calling the function (`mbpp_deserialize_inputs` in evalplus/data/mbpp.py); the task
/// numbers and conversions below are those facts. evalplus also compares some outputs as sets (their order depends
/// on Python's per-process hash seed) and some only as "is not None". Both run inside the sandbox as a wrapper
/// function appended to the solution, because JSON arguments cannot express the types and the comparison is the
/// sandbox's value equality.
/// </summary>
public static class MbppPlusInputs
{
    public const string WrapperName = "__rlef_entry";

    /// <summary>Each conversion maps the argument list `a` to the arguments evalplus passes.</summary>
    private static readonly (int[] Tasks, string Conversion)[] Conversions =
    [
        ([2, 116, 132, 143, 222, 261, 273, 394, 399, 421, 424, 429, 470, 560, 579, 596, 616, 630, 726, 740, 744, 809],
            "[tuple(x) for x in a]"),
        ([63, 64, 70, 94, 120, 237, 272, 299, 400, 409, 417, 438, 473, 614, 780],
            "[[tuple(x) for x in arg] for arg in a]"),
        ([75, 413, 444, 753], "[[tuple(x) for x in a[0]], a[1]]"),
        ([106, 750], "[a[0], tuple(a[1])]"),
        // evalplus maps empty members to {} (a dict), not set(); kept as evalplus does it.
        ([115], "[[set(x) if isinstance(x, list) and len(x) else {} for x in a[0]]]"),
        ([124], "[float(a[0]), complex(a[1])]"),
        ([250, 405, 446, 617, 720, 763, 808], "[tuple(a[0]), a[1]]"),
        ([259, 401, 445], "[tuple(tuple(x) for x in arg) for arg in a]"),
        ([278], "[tuple(tuple(x) if isinstance(x, list) else x for x in a[0])]"),
        ([307], "[tuple(a[0]), a[1], a[2]]"),
        ([722], "[{k: tuple(v) for k, v in a[0].items()}] + list(a[1:])"),
        ([252], "[complex(a[0])]"),
        ([580, 615, 791], "[__rlef_tuples(x) for x in a]"),
    ];

    /// <summary>evalplus' MBPP_OUTPUT_SET_EQ_TASKS (by entry point): compared as sets.</summary>
    private static readonly string[] SetEqualityEntryPoints =
        ["similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly", "larg_nnum", "intersection_array", "find_dissimilar", "Diff"];

    /// <summary>evalplus' MBPP_OUTPUT_NOT_NONE_TASKS: only whether the result is None counts.</summary>
    private static readonly string[] NotNoneEntryPoints = ["check_str", "text_match_three", "text_starta_endb"];

    /// <summary>The function the sandbox should call and the code appended to the solution ("" when none is needed).</summary>
    public static (string Callee, string CodeSuffix) Adapter(string taskId, string entryPoint)
    {
        string arguments = "a";
        if (int.TryParse(taskId.Split('/')[^1], out int number))
            foreach (var (tasks, conversion) in Conversions)
                if (tasks.Contains(number))
                    arguments = conversion;
        // A set compares equal whatever the order; sorted by repr it has one encoding for the sandbox to compare.
        string result = SetEqualityEntryPoints.Contains(entryPoint) ? "sorted(set(r), key=repr)"
            : NotNoneEntryPoints.Contains(entryPoint) ? "r is not None"
            : "r";
        if (arguments == "a" && result == "r")
            return (entryPoint, "");
        return (WrapperName, $$"""


            def __rlef_tuples(v):
                return tuple(__rlef_tuples(x) for x in v) if isinstance(v, list) else v
            def {{WrapperName}}(*a):
                r = {{entryPoint}}(*{{arguments}})
                return {{result}}
            """);
    }
}
