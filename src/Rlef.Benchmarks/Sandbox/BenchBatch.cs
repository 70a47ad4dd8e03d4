using System.Globalization;
using System.Numerics;
using Rlef.Sandbox;

namespace Rlef.Benchmarks.Sandbox;

/// <summary>One job of the benchmark batch.</summary>
public sealed record BenchJob(string Program, ExecutionRequest Request);

/// <summary>
/// The benchmark's programs: a trivial one (pure overhead) and realistic competitive-programming and
/// HumanEval-style ones, each with generated tests whose expected answers are computed here independently.
/// </summary>
public static class BenchBatch
{
    public static List<BenchJob> Build(int jobsPerProgram, int testsPerJob, int seed)
    {
        var rng = new Random(seed);
        var jobs = new List<BenchJob>();
        foreach (var (name, code, comparison, make) in Programs())
            for (int j = 0; j < jobsPerProgram; j++)
                jobs.Add(new BenchJob(name, new ExecutionRequest
                {
                    Code = code,
                    Comparison = comparison,
                    Tests = Enumerable.Range(0, testsPerJob).Select(_ => make(rng)).ToList(),
                }));
        return jobs;
    }

    private static IEnumerable<(string, string, Comparison, Func<Random, TestCase>)> Programs()
    {
        yield return ("trivial", "a, b = map(int, input().split())\nprint(a + b)\n", Comparison.CodeContests, rng =>
        {
            int a = rng.Next(-1_000_000, 1_000_000), b = rng.Next(-1_000_000, 1_000_000);
            return TestCase.Stdio($"{a} {b}\n", I(a + (long)b));
        });
        yield return ("sort", "import sys\ndata = sys.stdin.read().split()\nn = int(data[0])\nxs = sorted(map(int, data[1:n + 1]))\nprint(' '.join(map(str, xs)))\n",
            Comparison.CodeContests, rng =>
            {
                int[] xs = Enumerable.Range(0, 2000).Select(_ => rng.Next(-1_000_000_000, 1_000_000_000)).ToArray();
                string input = $"{xs.Length}\n{string.Join(' ', xs.Select(I))}\n";
                Array.Sort(xs);
                return TestCase.Stdio(input, string.Join(' ', xs.Select(I)));
            });
        yield return ("lis", "import sys, bisect\ndef main():\n    data = sys.stdin.buffer.read().split()\n    n = int(data[0])\n    tails = []\n" +
            "    for x in map(int, data[1:n + 1]):\n        i = bisect.bisect_left(tails, x)\n        if i == len(tails):\n            tails.append(x)\n        else:\n            tails[i] = x\n" +
            "    print(len(tails))\nmain()\n", Comparison.CodeContests, rng =>
            {
                int[] xs = Enumerable.Range(0, 5000).Select(_ => rng.Next(0, 100_000)).ToArray();
                var tails = new List<int>();
                foreach (int x in xs)
                {
                    int i = tails.BinarySearch(x);
                    if (i < 0) i = ~i;
                    else while (i > 0 && tails[i - 1] == x) i--;
                    if (i == tails.Count) tails.Add(x); else tails[i] = x;
                }
                return TestCase.Stdio($"{xs.Length}\n{string.Join(' ', xs.Select(I))}\n", I(tails.Count));
            });
        yield return ("sieve", "n = int(input())\nsieve = bytearray([1]) * (n + 1)\nsieve[0:2] = b'\\x00\\x00'\nfor i in range(2, int(n ** 0.5) + 1):\n" +
            "    if sieve[i]:\n        sieve[i * i::i] = bytes(len(range(i * i, n + 1, i)))\nprint(sum(sieve))\n", Comparison.CodeContests, rng =>
            {
                int n = rng.Next(50_000, 200_000);
                var composite = new bool[n + 1];
                int count = 0;
                for (int i = 2; i <= n; i++)
                {
                    if (composite[i]) continue;
                    count++;
                    for (long k = (long)i * i; k <= n; k += i) composite[k] = true;
                }
                return TestCase.Stdio($"{n}\n", I(count));
            });
        yield return ("call", "def unique_sorted(xs: list) -> list:\n    return sorted(set(xs))\n", Comparison.CodeContests, rng =>
        {
            int[] xs = Enumerable.Range(0, 300).Select(_ => rng.Next(-500, 500)).ToArray();
            string expected = "[" + string.Join(", ", xs.Distinct().Order().Select(I)) + "]";
            return TestCase.Call("unique_sorted", "[[" + string.Join(", ", xs.Select(I)) + "]]", expected);
        });
        yield return ("assert", "def fib(n: int) -> int:\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n", Comparison.CodeContests, rng =>
        {
            int n = rng.Next(50, 400);
            BigInteger a = 0, b = 1;
            for (int i = 0; i < n; i++) (a, b) = (b, a + b);
            return TestCase.Assert($"assert fib({n}) == {a.ToString(CultureInfo.InvariantCulture)}");
        });
    }

    private static string I(long x) => x.ToString(CultureInfo.InvariantCulture);
    private static string I(int x) => x.ToString(CultureInfo.InvariantCulture);
}
