using System.CommandLine;
using Rlef.Environment.Datasets;
using Spectre.Console;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef data fetch NAME`: a benchmark from its canonical source (or a mirror) into the data cache, resumable and
/// checksummed, parquet turned into JSON Lines; `rlef eval --dataset NAME` then finds it without --data.
/// </summary>
public static class DataFetchCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = string.Join(", ", DatasetCatalog.Names) };
        var mirror = new Option<string?>("--mirror") { Description = "Fetch from an http(s) URL or a folder laid out like the cache (NAME/FILE), e.g. a copy of another machine's ~/.cache/rlef/data" };
        var dir = new Option<string?>("--dir") { Description = "The data cache (default ~/.cache/rlef/data)" };
        var split = new Option<string[]>("--split") { Description = "Splits to fetch (default: the evaluation splits); e.g. --split train for apps or mbpp", AllowMultipleArgumentsPerToken = true };

        var command = new Command("fetch", "Download a benchmark from its canonical source (or --mirror) into the data cache: resumable (HTTP Range), " +
            "SHA-256 pinned or recorded at first download and verified after, parquet converted to JSON Lines. Sources: docs/datasets.md.")
        {
            name, mirror, dir, split,
        };
        command.SetAction(async (parse, ct) =>
        {
            var options = new FetchOptions
            {
                Root = parse.GetValue(dir),
                Mirror = parse.GetValue(mirror),
                Splits = parse.GetValue(split) is { Length: > 0 } s ? s.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToList() : null,
            };
            return await RunAsync(parse.GetValue(name)!, options, AnsiConsole.Console, ct);
        });
        return command;
    }

    /// <summary>
    /// The whole verb; returns the exit code: 1 when a download or a checksum fails. A user error (unknown dataset or
    /// split, a --mirror folder that does not exist) is thrown, and `rlef` turns it into exit code 2.
    /// </summary>
    public static async Task<int> RunAsync(string name, FetchOptions options, IAnsiConsole console, CancellationToken ct)
    {
        var dataset = DatasetCatalog.Find(name);
        using var fetcher = new DataFetcher(options);
        FetchResult result;
        try
        {
            console.MarkupLineInterpolated($"[bold]{dataset.Name}[/] from {options.Mirror ?? dataset.Origin} into {DataCache.Folder(options.Root, dataset)}");
            result = await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .StartAsync(async ctx =>
                {
                    var tasks = new Dictionary<string, ProgressTask>();
                    var progress = new Progress<FetchProgress>(p =>
                    {
                        if (!tasks.TryGetValue(p.File, out var task))
                            tasks[p.File] = task = ctx.AddTask(Markup.Escape(p.File), maxValue: 1);
                        if (p.Total is long total && total > 0)
                            task.MaxValue = total;
                        task.Value = Math.Min(p.Done, task.MaxValue);
                        task.Description = Markup.Escape($"{p.File}: {p.State}");
                    });
                    return await fetcher.FetchAsync(dataset, progress, ct);
                });
        }
        catch (Exception e) when (e is DownloadException or ChecksumMismatchException)
        {
            // Not the user's input: the network, the source or the mirror failed.
            Console.Error.WriteLine($"rlef data fetch: {e.Message}");
            return 1;
        }
        foreach (var file in result.Files)
            console.MarkupLineInterpolated($"  {file.Name}: {file.Status}{(file.Rows is int rows ? $", {rows} rows as JSON Lines" : "")}  sha256 {file.Sha256}");
        try { console.MarkupLineInterpolated($"rlef eval --dataset {dataset.Name} now reads {DataCache.EvalPath(dataset.Family, options.Root)}"); }
        catch (FileNotFoundException) { } // a split other than the evaluation one was fetched
        return 0;
    }
}
