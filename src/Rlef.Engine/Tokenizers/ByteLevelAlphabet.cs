namespace Rlef.Engine.Tokenizers;

/// <summary>
/// GPT-2's byte-level alphabet: every byte maps to one printable character, so BPE vocabularies can be
/// stored as strings. Printable Latin-1 bytes map to themselves; the other 68 bytes (controls, space,
/// DEL, NBSP, soft hyphen) map in byte order to U+0100, U+0101, ...
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>Character for each byte value.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Byte for each character code below U+0144; -1 where the character is not in the alphabet.</summary>
    private static readonly short[] CharToByteTable = BuildCharToByte();

    /// <summary>The byte a character stands for, or -1 when the character is not part of the alphabet.</summary>
    public static int CharToByte(char c) => c < CharToByteTable.Length ? CharToByteTable[c] : -1;

    private static bool IsPrintable(int b) => (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 0x100;
        for (int b = 0; b < 256; b++)
            map[b] = IsPrintable(b) ? (char)b : (char)next++;
        return map;
    }

    private static short[] BuildCharToByte()
    {
        var table = new short[0x144];
        Array.Fill(table, (short)-1);
        for (int b = 0; b < 256; b++)
            table[ByteToChar[b]] = (short)b;
        return table;
    }
}
