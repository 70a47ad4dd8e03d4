using System.Net;
using System.Net.Http.Headers;

namespace Rlef.Environment.Datasets;

/// <summary>A download that did not complete: names the URL (or mirror path) and how to get the file without network.</summary>
public sealed class DownloadException(string source, string dataset, string problem)
    : Exception($"could not fetch {source}: {problem}. Without network access, fetch from a mirror of the cache layout: " +
                $"rlef data fetch {dataset} --mirror URL|DIR (docs/datasets.md)")
{
    public string Location { get; } = source;
}

/// <summary>A downloaded file whose SHA-256 is not the pinned or recorded one; the file is deleted.</summary>
public sealed class ChecksumMismatchException(string source, string expected, string actual)
    : Exception($"checksum mismatch for {source}: expected SHA-256 {expected}, got {actual}; the download was deleted")
{
    public string Expected { get; } = expected;
    public string Actual { get; } = actual;
}

/// <summary>Where one file stands: bytes so far, the size when known, and what is being done.</summary>
public readonly record struct FetchProgress(string File, long Done, long? Total, string State);

public sealed record FetchOptions
{
    /// <summary>The cache root (default ~/.cache/rlef/data).</summary>
    public string? Root { get; init; }
    /// <summary>An http(s) URL or a folder with the cache layout (NAME/FILE) to fetch from instead of the sources.</summary>
    public string? Mirror { get; init; }
    /// <summary>Splits to fetch (default: the dataset's evaluation splits).</summary>
    public IReadOnlyList<string>? Splits { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>A response that sends nothing for this long is cut (and resumed).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Tries per file when a transfer breaks off mid-way; each resumes from the bytes already on disk.</summary>
    public int Attempts { get; init; } = 3;
}

/// <summary>What a fetch did to each file, and the path `rlef eval` reads.</summary>
public sealed record FetchResult(IReadOnlyList<FetchedFile> Files, string Folder);

public sealed record FetchedFile(string Name, string Path, string Sha256, string Status, int? Rows = null);

/// <summary>
/// `rlef data fetch`: downloads a dataset's files into the cache, resumable (an interrupted transfer leaves
/// FILE.part and the next one asks for the rest with an HTTP Range request), checks each against its pinned
/// SHA-256 or records it at first download and checks it ever after, and turns parquet into the JSON Lines the
/// loaders read. docs/datasets.md describes the layout, the sources and the checksums.
/// </summary>
public sealed class DataFetcher : IDisposable
{
    private readonly FetchOptions _options;
    private readonly HttpClient _http;

    public DataFetcher(FetchOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        _http = new HttpClient(handler ?? new SocketsHttpHandler { ConnectTimeout = options.ConnectTimeout, AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = Timeout.InfiniteTimeSpan, // large files: the idle timeout guards stalls instead
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("rlef-data-fetch/1");
    }

    public void Dispose() => _http.Dispose();

    public async Task<FetchResult> FetchAsync(DatasetSource dataset, IProgress<FetchProgress>? progress = null, CancellationToken ct = default)
    {
        var splits = _options.Splits ?? dataset.DefaultSplits;
        var unknown = splits.Except(dataset.Splits).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{dataset.Name} has no split {string.Join(", ", unknown)} (it has {string.Join(", ", dataset.Splits)})");
        string? mirrorFolder = MirrorFolder();
        string folder = DataCache.Folder(_options.Root, dataset);
        Directory.CreateDirectory(folder);
        var recorded = DataCache.ReadChecksums(folder);
        var done = new List<FetchedFile>();
        foreach (var file in dataset.Files.Where(f => splits.Contains(f.Split)))
        {
            string source = mirrorFolder is not null ? Path.Combine(mirrorFolder, dataset.Name, file.LocalName)
                : _options.Mirror is not null ? _options.Mirror.TrimEnd('/') + "/" + dataset.Name + "/" + Uri.EscapeDataString(file.LocalName)
                : file.Url;
            string path = Path.Combine(folder, file.LocalName);
            string? expected = file.Sha256 ?? recorded.GetValueOrDefault(file.LocalName);
            string status;
            string actual;
            string? cached = File.Exists(path) ? DataCache.Sha256(path) : null;
            if (cached is not null && (expected is null || expected == cached))
            {
                status = expected is null ? "cached (checksum recorded)" : "cached, checksum verified";
                actual = cached;
            }
            else
            {
                if (cached is not null)
                {
                    progress?.Report(new FetchProgress(file.LocalName, 0, null, "checksum mismatch in the cache: fetching again"));
                    File.Delete(path);
                }
                string part = path + ".part";
                bool resumed = File.Exists(part) && new FileInfo(part).Length > 0;
                if (mirrorFolder is not null)
                    await CopyAsync(source, part, dataset.Name, file.LocalName, progress, ct);
                else
                    await DownloadAsync(source, part, dataset.Name, file.LocalName, progress, ct);
                actual = DataCache.Sha256(part);
                if (expected is not null && expected != actual)
                {
                    File.Delete(part);
                    throw new ChecksumMismatchException(source, expected, actual);
                }
                File.Move(part, path, overwrite: true);
                status = (mirrorFolder is not null ? "copied" : resumed ? "downloaded (resumed)" : "downloaded")
                         + (expected is null ? ", checksum recorded" : ", checksum verified");
            }
            if (file.Sha256 is null && recorded.GetValueOrDefault(file.LocalName) != actual)
            {
                recorded[file.LocalName] = actual;
                DataCache.WriteChecksums(folder, recorded);
            }
            int? rows = null;
            if (file.IsParquet)
            {
                string jsonl = Path.Combine(folder, file.DataName);
                if (!File.Exists(jsonl) || File.GetLastWriteTimeUtc(jsonl) < File.GetLastWriteTimeUtc(path))
                {
                    progress?.Report(new FetchProgress(file.LocalName, 0, null, "converting parquet to JSON Lines"));
                    rows = ParquetRows.Convert(path, jsonl);
                }
            }
            progress?.Report(new FetchProgress(file.LocalName, 1, 1, status));
            done.Add(new FetchedFile(file.LocalName, path, actual, status, rows));
        }
        return new FetchResult(done, folder);
    }

    /// <summary>A mirror given as a folder (a path or file:// URL) rather than http(s).</summary>
    private string? MirrorFolder()
    {
        string? mirror = _options.Mirror;
        if (mirror is null || mirror.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || mirror.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return null;
        string folder = mirror.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? new Uri(mirror).LocalPath : mirror;
        return Directory.Exists(folder) ? folder : throw new ArgumentException($"--mirror {mirror}: not an http(s) URL nor an existing folder");
    }

    private static async Task CopyAsync(string source, string part, string dataset, string name, IProgress<FetchProgress>? progress, CancellationToken ct)
    {
        if (!File.Exists(source))
            throw new DownloadException(source, dataset, "the mirror folder has no such file (expected the cache layout NAME/FILE)");
        await using var input = File.OpenRead(source);
        await using var output = new FileStream(part, FileMode.Create, FileAccess.Write);
        await CopyWithProgressAsync(input, output, 0, input.Length, name, progress, TimeSpan.FromMinutes(10), ct);
    }

    /// <summary>GET with `Range: bytes=N-` when N bytes are already in FILE.part; a transfer cut mid-way resumes.</summary>
    private async Task DownloadAsync(string url, string part, string dataset, string name, IProgress<FetchProgress>? progress, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(part) ? new FileInfo(part).Length : 0;
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (have > 0)
                request.Headers.Range = new RangeHeaderValue(have, null);
            HttpResponseMessage response;
            try { response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct); }
            catch (HttpRequestException e) { throw new DownloadException(url, dataset, e.Message); }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { throw new DownloadException(url, dataset, "the connection timed out"); }
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && have > 0)
                {
                    // The part is already whole (or longer than the file): keep it if its size is the file's, else restart.
                    if (response.Content.Headers.ContentRange?.Length == have)
                        return;
                    File.Delete(part);
                    continue;
                }
                if (!response.IsSuccessStatusCode)
                    throw new DownloadException(url, dataset, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                bool append = have > 0 && response.StatusCode == HttpStatusCode.PartialContent;
                if (!append)
                    have = 0; // the server ignored the range: start over
                long? total = response.Content.Headers.ContentLength is long length ? length + have : null;
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(ct);
                    await using var output = new FileStream(part, append ? FileMode.Append : FileMode.Create, FileAccess.Write);
                    await CopyWithProgressAsync(body, output, have, total, name, progress, _options.IdleTimeout, ct);
                    if (total is long expected && output.Length != expected)
                        throw new IOException($"the transfer ended after {output.Length} of {expected} bytes");
                    return;
                }
                catch (Exception e) when (e is IOException or HttpRequestException or TimeoutException && !ct.IsCancellationRequested)
                {
                    if (attempt >= _options.Attempts)
                        throw new DownloadException(url, dataset, $"{e.Message} (after {attempt} attempts; {new FileInfo(part).Length} bytes kept in {part}: rerun to resume)");
                    progress?.Report(new FetchProgress(name, new FileInfo(part).Length, total, $"transfer broke off ({e.Message}); resuming"));
                    await Task.Delay(TimeSpan.FromMilliseconds(500 * attempt), ct);
                }
            }
        }
    }

    private static async Task CopyWithProgressAsync(Stream input, Stream output, long start, long? total, string name,
        IProgress<FetchProgress>? progress, TimeSpan idle, CancellationToken ct)
    {
        var buffer = new byte[1 << 16];
        long done = start;
        var reported = System.Diagnostics.Stopwatch.StartNew();
        progress?.Report(new FetchProgress(name, done, total, start > 0 ? "resuming" : "fetching"));
        while (true)
        {
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
            stall.CancelAfter(idle);
            int read;
            try { read = await input.ReadAsync(buffer, stall.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { throw new TimeoutException($"no data for {idle.TotalSeconds:0} s"); }
            if (read == 0)
                break;
            await output.WriteAsync(buffer.AsMemory(0, read), ct);
            done += read;
            if (reported.ElapsedMilliseconds >= 100)
            {
                progress?.Report(new FetchProgress(name, done, total, "fetching"));
                reported.Restart();
            }
        }
        await output.FlushAsync(ct);
        progress?.Report(new FetchProgress(name, done, total ?? done, "fetched"));
    }
}
