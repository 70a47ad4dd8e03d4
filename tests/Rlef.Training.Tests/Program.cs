namespace Rlef.Training.Tests;

/// <summary>
/// The test assembly doubles as a tiny executable so the crash test can run <see cref="FakeRun"/> in a child
/// process and kill it for real: `dotnet Rlef.Training.Tests.dll fake-run DIR STEPS DELAY_MS`.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["fake-run", string dir, string steps, string delayMs])
        {
            FakeRun.Run(dir, int.Parse(steps), step =>
            {
                Console.Out.WriteLine($"step {step}");
                Console.Out.Flush();
                Thread.Sleep(int.Parse(delayMs));
            });
            return 0;
        }
        if (args is ["rl-run", string runDir, string total])
        {
            using var run = Directory.Exists(runDir) ? Runs.RunDirectory.Resume(runDir) : Runs.RunDirectory.Create(runDir, Trainer.CrashRun.Config(int.Parse(total)));
            Trainer.CrashRun.RunAsync(run, line => { Console.Out.WriteLine(line); Console.Out.Flush(); }).GetAwaiter().GetResult();
            return 0;
        }
        Console.Error.WriteLine("usage: Rlef.Training.Tests fake-run DIR STEPS DELAY_MS | rl-run DIR TOTAL_UPDATES");
        return 2;
    }
}
