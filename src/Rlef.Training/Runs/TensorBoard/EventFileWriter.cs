using System.Buffers.Binary;
using Google.Protobuf;

namespace Rlef.Training.Runs.TensorBoard;

/// <summary>
/// Writes a TensorBoard event file: a TFRecord stream of tensorflow.Event protos. Only the fields scalars need are
/// encoded, by field number, with Google.Protobuf's CodedOutputStream (no generated code):
/// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; SessionLog session_log = 7; }
/// Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
/// SessionLog { SessionStatus status = 1; }  (START = 1)
/// </summary>
public sealed class EventFileWriter : IDisposable
{
    public const string FileVersion = "brain.Event:2";

    readonly FileStream _stream;
    readonly TimeProvider _clock;

    /// <summary>Creates events.out.tfevents.{unix seconds}.{host}.{pid}.{n} in <paramref name="directory"/>.</summary>
    public EventFileWriter(string directory, TimeProvider? clock = null)
    {
        _clock = clock ?? TimeProvider.System;
        Directory.CreateDirectory(directory);
        long seconds = _clock.GetUtcNow().ToUnixTimeSeconds();
        // A resumed run adds a file; the trailing counter keeps names apart within one second and one process.
        for (int counter = 0; ; counter++)
        {
            string candidate = System.IO.Path.Combine(directory,
                $"events.out.tfevents.{seconds:D10}.{System.Environment.MachineName}.{System.Environment.ProcessId}.{counter}");
            if (File.Exists(candidate)) continue;
            Path = candidate;
            _stream = new FileStream(Path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            break;
        }
        WriteEvent(step: 0, fileVersion: FileVersion);
    }

    public string Path { get; }

    /// <summary>One event holding every scalar of <paramref name="values"/> at <paramref name="step"/>; non-finite values are left out.</summary>
    public void WriteScalars(long step, IEnumerable<KeyValuePair<string, double>> values)
    {
        using var summary = new MemoryStream();
        var output = new CodedOutputStream(summary);
        foreach (var (tag, value) in values)
        {
            if (!double.IsFinite(value)) continue;
            using var valueBytes = new MemoryStream();
            var valueOutput = new CodedOutputStream(valueBytes);
            valueOutput.WriteTag(1, WireFormat.WireType.LengthDelimited);
            valueOutput.WriteString(tag);
            valueOutput.WriteTag(2, WireFormat.WireType.Fixed32);
            valueOutput.WriteFloat((float)value);
            valueOutput.Flush();
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(valueBytes.ToArray()));
        }
        output.Flush();
        WriteEvent(step, summary: summary.ToArray());
    }

    /// <summary>
    /// Marks a restart at <paramref name="step"/>: TensorBoard drops events at or after it that an earlier,
    /// interrupted process wrote to other files of the run, so a resumed run shows one clean curve.
    /// </summary>
    public void WriteSessionStart(long step)
    {
        using var sessionLog = new MemoryStream();
        var output = new CodedOutputStream(sessionLog);
        output.WriteTag(1, WireFormat.WireType.Varint);
        output.WriteEnum(1);
        output.Flush();
        WriteEvent(step, sessionLog: sessionLog.ToArray());
    }

    public void Flush() => _stream.Flush();

    public void Dispose() => _stream.Dispose();

    void WriteEvent(long step, string? fileVersion = null, byte[]? summary = null, byte[]? sessionLog = null)
    {
        using var eventBytes = new MemoryStream();
        var output = new CodedOutputStream(eventBytes);
        output.WriteTag(1, WireFormat.WireType.Fixed64);
        output.WriteDouble(_clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
        output.WriteTag(2, WireFormat.WireType.Varint);
        output.WriteInt64(step);
        if (fileVersion is not null)
        {
            output.WriteTag(3, WireFormat.WireType.LengthDelimited);
            output.WriteString(fileVersion);
        }
        if (summary is not null)
        {
            output.WriteTag(5, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(summary));
        }
        if (sessionLog is not null)
        {
            output.WriteTag(7, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(sessionLog));
        }
        output.Flush();
        WriteRecord(eventBytes.ToArray());
    }

    /// <summary>TFRecord framing: uint64 length, masked CRC of the length bytes, data, masked CRC of the data (little-endian).</summary>
    void WriteRecord(byte[] data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        _stream.Write(header);
        _stream.Write(data);
        _stream.Write(footer);
    }
}
