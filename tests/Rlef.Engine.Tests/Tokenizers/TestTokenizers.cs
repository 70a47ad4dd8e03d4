using System.Collections.Concurrent;
using Rlef.Engine.Tokenizers;

namespace Rlef.Engine.Tests.Tokenizers;

/// <summary>Loads each tokenizer directory once per test run (the real files take a while to parse).</summary>
internal static class TestTokenizers
{
    private static readonly ConcurrentDictionary<string, Lazy<LoadedTokenizer>> Cache = new();

    public static LoadedTokenizer Load(string dir) =>
        Cache.GetOrAdd(Path.GetFullPath(dir), d => new Lazy<LoadedTokenizer>(() => TokenizerLoader.Load(d))).Value;

    public static BpeTokenizer Bpe(string dir) => (BpeTokenizer)Load(dir).Tokenizer;
}
