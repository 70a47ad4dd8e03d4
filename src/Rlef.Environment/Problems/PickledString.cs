using System.Buffers.Binary;
using System.Text;

namespace Rlef.Environment.Problems;

/// <summary>A pickle that is not one plain string: the message names the offending opcode and its offset.</summary>
public sealed class UnsupportedPickleException(string message) : Exception(message);

/// <summary>
/// Reads a pickle that holds exactly one `str` and nothing else, as LiveCodeBench stores its private tests
/// (docs/datasets.md, "LiveCodeBench"). This is deliberately not an unpickler: it knows only the opcodes with which
/// protocols 2-5 write a lone string (PROTO, FRAME, SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, the memo opcodes and
/// STOP) and refuses every other one — GLOBAL, REDUCE, BUILD and friends would run code in Python's unpickler, and a
/// data file has no business containing them.
/// </summary>
public static class PickledString
{
    private const byte Proto = 0x80, Frame = 0x95, ShortBinUnicode = 0x8c, BinUnicode = (byte)'X', BinUnicode8 = 0x8d,
        Memoize = 0x94, BinPut = (byte)'q', LongBinPut = (byte)'r', Stop = (byte)'.';

    /// <summary>Strings longer than this are refused rather than allocated (a private-test file is a few MB).</summary>
    public const long MaxStringBytes = 1L << 30;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Read(ReadOnlySpan<byte> pickle)
    {
        // Every string pushed is kept, so that a hostile pickle (strings, then STACK_GLOBAL) is refused at the opcode that
        // shows its intent; STOP then demands exactly one.
        var stack = new List<string>();
        int at = 0;
        while (true)
        {
            if (at >= pickle.Length)
                throw new UnsupportedPickleException($"the pickle ends at byte {at} without a STOP opcode");
            int opcodeAt = at;
            byte op = pickle[at++];
            switch (op)
            {
                case Proto:
                    Take(pickle, ref at, 1, "PROTO");
                    break;
                case Frame:
                    Take(pickle, ref at, 8, "FRAME"); // a length hint for buffered readers: the bytes follow inline
                    break;
                case ShortBinUnicode:
                    stack.Add(Text(pickle, ref at, Take(pickle, ref at, 1, "SHORT_BINUNICODE")[0], "SHORT_BINUNICODE"));
                    break;
                case BinUnicode:
                    stack.Add(Text(pickle, ref at, BinaryPrimitives.ReadUInt32LittleEndian(Take(pickle, ref at, 4, "BINUNICODE")), "BINUNICODE"));
                    break;
                case BinUnicode8:
                    stack.Add(Text(pickle, ref at, BinaryPrimitives.ReadUInt64LittleEndian(Take(pickle, ref at, 8, "BINUNICODE8")), "BINUNICODE8"));
                    break;
                case Memoize:
                    break; // the memo only matters to later GET opcodes, which are refused
                case BinPut:
                    Take(pickle, ref at, 1, "BINPUT");
                    break;
                case LongBinPut:
                    Take(pickle, ref at, 4, "LONG_BINPUT");
                    break;
                case Stop:
                    if (stack.Count != 1)
                        throw new UnsupportedPickleException($"STOP at byte {opcodeAt} with {stack.Count} values: only one str is accepted");
                    if (at != pickle.Length)
                        throw new UnsupportedPickleException($"{pickle.Length - at} bytes after STOP at byte {opcodeAt}");
                    return stack[0];
                default:
                    throw new UnsupportedPickleException(
                        $"opcode 0x{op:x2} ({Name(op)}) at byte {opcodeAt} is not allowed: only a pickled str is accepted, never a general unpickler");
            }
        }
    }

    private static ReadOnlySpan<byte> Take(ReadOnlySpan<byte> pickle, ref int at, int count, string opcode)
    {
        if (pickle.Length - at < count)
            throw new UnsupportedPickleException($"{opcode} at byte {at - 1} is truncated");
        var bytes = pickle.Slice(at, count);
        at += count;
        return bytes;
    }

    private static string Text(ReadOnlySpan<byte> pickle, ref int at, ulong length, string opcode)
    {
        if (length > MaxStringBytes || (ulong)(pickle.Length - at) < length)
            throw new UnsupportedPickleException($"{opcode} at byte {at} declares {length} bytes, more than the pickle holds");
        try { return StrictUtf8.GetString(Take(pickle, ref at, (int)length, opcode)); }
        catch (DecoderFallbackException e) { throw new UnsupportedPickleException($"{opcode} at byte {at} is not valid UTF-8: {e.Message}"); }
    }

    /// <summary>Names of the opcodes an attacker would use, so the refusal says what was attempted.</summary>
    private static string Name(byte op) => op switch
    {
        (byte)'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        (byte)'R' => "REDUCE",
        (byte)'b' => "BUILD",
        (byte)'i' => "INST",
        (byte)'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        (byte)'(' => "MARK",
        (byte)']' => "EMPTY_LIST",
        (byte)'}' => "EMPTY_DICT",
        (byte)')' => "EMPTY_TUPLE",
        (byte)'h' or (byte)'j' or (byte)'g' => "GET",
        (byte)'V' => "UNICODE",
        (byte)'S' or (byte)'T' or (byte)'U' or 0x8e => "a bytes/str-2 string",
        _ => "unknown or not allowed",
    };
}
