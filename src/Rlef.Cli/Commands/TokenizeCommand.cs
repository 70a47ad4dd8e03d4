using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Rlef.Engine.Tokenizers;

namespace Rlef.Cli.Commands;

/// <summary>
/// `rlef tokenize --tokenizer PATH [--chat] [--generation-prompt] [--throughput]`: text (or, with --chat, a JSON
/// list of {role, content} messages) on stdin → token ids as a JSON array on stdout.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer")
        {
            Description = "\"byte\" (byte-level tokenizer), a tokenizer.json file, or a model directory holding tokenizer.json "
                        + "(and tokenizer_config.json for the chat template)",
            Required = true,
        };
        var chatOption = new Option<bool>("--chat")
        {
            Description = "Read a JSON list of {\"role\", \"content\"} messages and encode the chat prompt",
        };
        var generationOption = new Option<bool>("--generation-prompt")
        {
            Description = "With --chat: end with the assistant header that prompts a reply (add_generation_prompt)",
        };
        var specialOption = new Option<bool>("--add-special-tokens")
        {
            Description = "Without --chat: apply the tokenizer's post-processor (Llama 3 puts <|begin_of_text|> first)",
        };
        var throughputOption = new Option<bool>("--throughput")
        {
            Description = "Instead of ids, print encode throughput on the stdin text (first pass and cached passes) to stderr",
        };

        var command = new Command("tokenize", "Encode stdin with a tokenizer and print the ids as a JSON array.")
        {
            tokenizerOption, chatOption, generationOption, specialOption, throughputOption,
        };
        command.SetAction(parse =>
        {
            string spec = parse.GetValue(tokenizerOption)!;
            string input = Console.In.ReadToEnd();
            var loaded = TokenizerLoader.Load(spec);
            if (parse.GetValue(throughputOption)) { MeasureThroughput(spec, input); return 0; }
            int[] ids;
            if (parse.GetValue(chatOption))
            {
                var format = loaded.ChatFormat ?? throw new InvalidDataException($"{spec}: no chat template (tokenizer_config.json with chat_template beside tokenizer.json)");
                ids = format.EncodeChat(ParseMessages(input), parse.GetValue(generationOption));
            }
            else
            {
                ids = parse.GetValue(specialOption) && loaded.Tokenizer is BpeTokenizer bpe
                    ? bpe.Encode(input, addSpecialTokens: true)
                    : loaded.Tokenizer.Encode(input);
            }
            Console.Out.WriteLine("[" + string.Join(",", ids) + "]");
            return 0;
        });
        return command;
    }

    private static List<ChatMessage> ParseMessages(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("stdin: --chat expects a JSON array of {\"role\", \"content\"} objects");
        var messages = new List<ChatMessage>();
        int i = 0;
        foreach (var m in doc.RootElement.EnumerateArray())
        {
            string Field(string name) =>
                m.ValueKind == JsonValueKind.Object && m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString()!
                    : throw new InvalidDataException($"stdin: message [{i}] has no string \"{name}\"");
            messages.Add(new ChatMessage(Field("role"), Field("content")));
            i++;
        }
        return messages;
    }

    /// <summary>
    /// First pass over the text (empty word cache) and the median of 5 further passes (cached words), by wall
    /// clock and by this process's CPU time (the latter is steadier on a shared machine).
    /// </summary>
    private static void MeasureThroughput(string spec, string text)
    {
        double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
        var load = Stopwatch.StartNew();
        var tokenizer = TokenizerLoader.Load(spec).Tokenizer;
        double loadSeconds = load.Elapsed.TotalSeconds;
        var (tokens, coldWall, coldCpu) = Timed(() => tokenizer.Encode(text).Length);
        var warm = Enumerable.Range(0, 5).Select(_ => Timed(() => tokenizer.Encode(text).Length)).ToList();
        double warmWall = warm.Select(w => w.Wall).Order().ElementAt(2), warmCpu = warm.Select(w => w.Cpu).Order().ElementAt(2);
        Console.Error.WriteLine($"{spec}: loaded in {loadSeconds:F2} s; {mb:F2} MB, {tokens} tokens ({mb * 1e6 / tokens:F2} bytes/token), 1 thread");
        Console.Error.WriteLine($"  first pass (empty cache):    {mb / coldWall,6:F1} MB/s wall, {mb / coldCpu,6:F1} MB/s per CPU-second");
        Console.Error.WriteLine($"  cached passes (median of 5): {mb / warmWall,6:F1} MB/s wall, {mb / warmCpu,6:F1} MB/s per CPU-second");
    }

    private static (int Result, double Wall, double Cpu) Timed(Func<int> work)
    {
        var process = Process.GetCurrentProcess();
        TimeSpan cpu0 = process.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        int result = work();
        double wall = sw.Elapsed.TotalSeconds;
        process.Refresh();
        return (result, wall, (process.TotalProcessorTime - cpu0).TotalSeconds);
    }
}
