using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Rlef.Training.Runs;
using Rlef.Training.Runs.TensorBoard;

namespace Rlef.Training.Tests;

public sealed class TensorBoardTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("rlef-tb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0u, Crc32C.Compute([]));
        // 32 zero bytes: RFC 3720 B.4 test vector.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
    }

    [Fact]
    public void Event_file_decodes_with_valid_crcs_and_the_written_scalars()
    {
        string path;
        using (var writer = new EventFileWriter(_dir))
        {
            writer.WriteScalars(7, [new("policy_loss", 0.25), new("kl/reference", -1.5), new("skipped", double.NaN)]);
            writer.WriteSessionStart(8);
            path = writer.Path;
        }
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(path));

        List<DecodedEvent> events = ReadEvents(path);
        Assert.Equal(3, events.Count);
        Assert.Equal(EventFileWriter.FileVersion, events[0].FileVersion);
        Assert.Equal(0, events[0].Step);
        Assert.InRange(events[0].WallTime, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 600, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
        Assert.Equal(7, events[1].Step);
        Assert.Equal([("policy_loss", 0.25f), ("kl/reference", -1.5f)], events[1].Scalars);
        Assert.Equal(8, events[2].Step);
        Assert.Equal(1, events[2].SessionStatus);
    }

    [Fact]
    public void Corruption_is_detected_by_the_record_crc()
    {
        string path;
        using (var writer = new EventFileWriter(_dir)) { writer.WriteScalars(1, [new("x", 1.0)]); path = writer.Path; }
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^6] ^= 0x01; // inside the second record's data
        File.WriteAllBytes(path, bytes);
        Assert.Throws<InvalidDataException>(() => ReadEvents(path));
    }

    [Fact]
    public void Metrics_log_writes_jsonl_and_tensorboard_and_truncates_on_resume()
    {
        using (var log = new MetricsLog(_dir))
            for (int step = 1; step <= 5; step++)
                log.Write(step, [new("policy_loss", step * 0.5), new("entropy", double.NaN)]);
        File.AppendAllText(Path.Combine(_dir, MetricsLog.JsonlFileName), "{\"step\": 6, \"policy_lo"); // torn by a crash

        string[] lines = File.ReadAllLines(Path.Combine(_dir, MetricsLog.JsonlFileName));
        using (JsonDocument first = JsonDocument.Parse(lines[0]))
        {
            Assert.Equal(1, first.RootElement.GetProperty("step").GetInt64());
            Assert.Equal(0.5, first.RootElement.GetProperty("policy_loss").GetDouble());
            Assert.Equal(JsonValueKind.Null, first.RootElement.GetProperty("entropy").ValueKind);
        }

        using (var resumed = new MetricsLog(_dir, resumeStep: 3))
            resumed.Write(4, [new("policy_loss", 9.0)]);
        string[] after = File.ReadAllLines(Path.Combine(_dir, MetricsLog.JsonlFileName));
        Assert.Equal(4, after.Length);
        Assert.Contains("\"policy_loss\":9", after[3]);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(_dir, MetricsLog.TensorBoardDirectory)).Length);
    }

    sealed record DecodedEvent(double WallTime, long Step, string? FileVersion, List<(string, float)> Scalars, int? SessionStatus);

    /// <summary>
    /// An independent reader: TFRecord framing with CRC checks, then the fields of tensorflow/core/util/event.proto
    /// and summary.proto by number.
    /// </summary>
    static List<DecodedEvent> ReadEvents(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var events = new List<DecodedEvent>();
        int at = 0;
        while (at < bytes.Length)
        {
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(at));
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8)) != Crc32C.Masked(bytes.AsSpan(at, 8)))
                throw new InvalidDataException("length crc");
            ReadOnlySpan<byte> data = bytes.AsSpan(at + 12, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + (int)length)) != Crc32C.Masked(data))
                throw new InvalidDataException("data crc");
            events.Add(DecodeEvent(data.ToArray()));
            at += 12 + (int)length + 4;
        }
        return events;
    }

    static DecodedEvent DecodeEvent(byte[] data)
    {
        var input = new CodedInputStream(data);
        double wallTime = 0;
        long step = 0;
        string? version = null;
        int? status = null;
        var scalars = new List<(string, float)>();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1: wallTime = input.ReadDouble(); break;
                case 2: step = input.ReadInt64(); break;
                case 3: version = input.ReadString(); break;
                case 5:
                    var summary = new CodedInputStream(input.ReadBytes().ToByteArray());
                    uint summaryTag;
                    while ((summaryTag = summary.ReadTag()) != 0)
                    {
                        Assert.Equal(1, WireFormat.GetTagFieldNumber(summaryTag));
                        var value = new CodedInputStream(summary.ReadBytes().ToByteArray());
                        string name = "";
                        float simple = float.NaN;
                        uint valueTag;
                        while ((valueTag = value.ReadTag()) != 0)
                            switch (WireFormat.GetTagFieldNumber(valueTag))
                            {
                                case 1: name = value.ReadString(); break;
                                case 2: simple = value.ReadFloat(); break;
                                default: value.SkipLastField(); break;
                            }
                        scalars.Add((name, simple));
                    }
                    break;
                case 7: // session_log (6 is the deprecated log_message)
                    var log = new CodedInputStream(input.ReadBytes().ToByteArray());
                    Assert.Equal(1, WireFormat.GetTagFieldNumber(log.ReadTag()));
                    status = log.ReadEnum();
                    break;
                default: input.SkipLastField(); break;
            }
        }
        return new DecodedEvent(wallTime, step, version, scalars, status);
    }
}
