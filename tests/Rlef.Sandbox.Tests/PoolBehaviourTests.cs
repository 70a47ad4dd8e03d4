using Rlef.Sandbox;

namespace Rlef.Sandbox.Tests;

/// <summary>Pool mechanics with pools of their own: recycling, infrastructure retries, configuration errors.</summary>
public class PoolBehaviourTests
{
    private static ExecutionRequest AddOne(int tests = 3) => new()
    {
        Code = "print(int(input()) + 1)",
        Tests = Enumerable.Range(0, tests).Select(i => TestCase.Stdio($"{i}", $"{i + 1}")).ToList(),
    };

    [Fact]
    public async Task DeadWorkerIsReplacedAndTheJobRetriedNotFailed()
    {
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1 });
        // A worker that reported an anomaly (e.g. a stray process seen by its sweep on a loaded machine) is
        // recycled instead of going back to the pool; then there is no idle worker to kill yet, so run again.
        int killed = 0;
        for (int attempt = 0; attempt < 5 && killed == 0; attempt++)
        {
            Assert.True((await pool.RunAsync(AddOne())).AllPassed);
            killed = pool.KillIdleWorkerProcesses();
        }
        Assert.Equal(1, killed);
        int startedBefore = pool.WorkersStarted;
        var report = await pool.RunAsync(AddOne());
        Assert.True(report.AllPassed, string.Join("; ", report.Results.Select(r => r.Verdict + " " + r.Error)));
        Assert.Equal(startedBefore + 1, pool.WorkersStarted);
    }

    [Fact]
    public void AWorkerNeverReusesALeftoverCgroup()
    {
        // Cgroups left by an earlier process that had this pid (pids are reused) keep their OOM kill counts.
        using WorkerCgroup? first = WorkerCgroup.TryCreate();
        if (first == null)
            return;  // no cgroups v1 here
        string dir = Path.GetDirectoryName(first.OomControlFile)!, parent = Path.GetDirectoryName(dir)!;
        int n = int.Parse(Path.GetFileName(dir)[1..], System.Globalization.CultureInfo.InvariantCulture);
        var leftovers = Enumerable.Range(n + 1, 20).Select(i => Directory.CreateDirectory(Path.Combine(parent, $"w{i}")).FullName).ToList();
        try
        {
            using WorkerCgroup? second = WorkerCgroup.TryCreate();
            Assert.NotNull(second);
            Assert.DoesNotContain(Path.GetDirectoryName(second.OomControlFile), leftovers);
        }
        finally
        {
            foreach (string d in leftovers)
                Directory.Delete(d);
        }
    }

    [Fact]
    public async Task WorkersAreRecycledAfterJobsPerWorker()
    {
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1, JobsPerWorker = 2 });
        for (int i = 0; i < 5; i++)
            Assert.True((await pool.RunAsync(AddOne(1))).AllPassed);
        Assert.Equal(3, pool.WorkersStarted);
    }

    [Fact]
    public async Task AnomalyRecyclesTheWorker()
    {
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1 });
        await pool.RunAsync(new ExecutionRequest { Code = "import time\ntime.sleep(5)", Tests = [TestCase.Stdio("", null)], Limits = new() { WallTimeSeconds = 0.3 } });
        Assert.True((await pool.RunAsync(AddOne(1))).AllPassed);
        Assert.Equal(2, pool.WorkersStarted);
    }

    [Fact]
    public async Task NoIsolationModeSaysSoLoudlyAndStillJudges()
    {
        var warning = new StringWriter();
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1, Isolation = false, WarningWriter = warning });
        Assert.Contains("isolation is OFF", warning.ToString());
        var report = await pool.RunAsync(new ExecutionRequest
        {
            Code = "x = int(input())\nprint(10 // x)",
            Tests = [TestCase.Stdio("2", "5"), TestCase.Stdio("0", "0")],
        });
        Assert.Equal(Verdict.Passed, report.Results[0].Verdict);
        Assert.Equal(Verdict.RuntimeError, report.Results[1].Verdict);
        Assert.Contains("solution.py", report.Results[1].Error);
    }

    [Fact]
    public void MissingBubblewrapFailsWithInstallInstructions()
    {
        string empty = Directory.CreateTempSubdirectory("rlef-nopath-").FullName;
        var e = Assert.Throws<InvalidOperationException>(() => SandboxLaunch.Create(new SandboxOptions(), empty));
        Assert.Contains("apt-get install bubblewrap", e.Message);
        Directory.Delete(empty);
    }

    [Fact]
    public async Task BadRequestsNameTheField()
    {
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1 });
        var e = await Assert.ThrowsAsync<ArgumentException>(() => pool.RunAsync(new ExecutionRequest
        {
            Code = "def f(): pass", Tests = [TestCase.Stdio("", "1"), TestCase.Call("f", "[]", "[1, 2")],
        }));
        Assert.Contains("Tests[1].ExpectedValue", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SandboxPool(new SandboxOptions { Workers = 0 }));
    }

    [Fact]
    public async Task InterpreterOutsideUsrIsBoundIntoTheSandbox()
    {
        const string pyenv = "/root/.pyenv/versions/3.11.7/bin/python3.11";
        if (!File.Exists(pyenv))
            return;  // only where such an interpreter exists
        await using var pool = new SandboxPool(new SandboxOptions { Workers = 1, PythonPath = pyenv });
        var r = (await pool.RunAsync(new ExecutionRequest { Code = "import sys, os\nprint(sys.version_info[:2], os.getuid())", Tests = [TestCase.Stdio("", "(3, 11) 65534")] })).Results[0];
        Assert.True(r.Verdict == Verdict.Passed, $"{r.Verdict}: {r.Stdout} {r.Error}");
    }
}
