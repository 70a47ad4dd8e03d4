using System.Globalization;
using System.Numerics;
using System.Text;

namespace Rlef.Sandbox;

/// <summary>
/// A value returned by a call test, parsed from the runner's encoding. The encoding is Python literal syntax for
/// exact builtin types only: None, bool, int, float (repr, plus inf / -inf / nan), str and bytes (repr), list,
/// tuple, dict (insertion order), set and frozenset (elements sorted by their encoding). Anything else is encoded
/// as "&lt;unencodable TYPE&gt;", which never equals anything but the identical text.
/// </summary>
public abstract record PythonValue
{
    public sealed record None : PythonValue;
    public sealed record Bool(bool Value) : PythonValue;
    public sealed record Int(BigInteger Value) : PythonValue;
    public sealed record Float(double Value) : PythonValue;
    public sealed record Str(string Value) : PythonValue;
    public sealed record Bytes(byte[] Value) : PythonValue;
    public sealed record List(IReadOnlyList<PythonValue> Items) : PythonValue;
    public sealed record Tuple(IReadOnlyList<PythonValue> Items) : PythonValue;
    public sealed record Dict(IReadOnlyList<KeyValuePair<PythonValue, PythonValue>> Items) : PythonValue;
    public sealed record Set(IReadOnlyList<PythonValue> Items, bool Frozen) : PythonValue;

    /// <summary>Parses the runner's encoding; false (with the reason) on anything else.</summary>
    public static bool TryParse(string text, out PythonValue? value, out string? error)
    {
        var p = new Parser(text);
        try
        {
            value = p.ParseValue(0);
            p.SkipSpaces();
            if (!p.AtEnd)
                throw new FormatException($"unexpected text at offset {p.Position}");
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            value = null;
            error = e.Message;
            return false;
        }
    }

    public static PythonValue Parse(string text) =>
        TryParse(text, out var v, out string? error) ? v! : throw new FormatException($"not a value in the runner's encoding: {error}");

    private sealed class Parser(string text)
    {
        private int _pos;
        public int Position => _pos;
        public bool AtEnd => _pos >= text.Length;

        public void SkipSpaces()
        {
            while (_pos < text.Length && text[_pos] == ' ')
                _pos++;
        }

        private bool TryWord(string word)
        {
            if (string.CompareOrdinal(text, _pos, word, 0, word.Length) != 0)
                return false;
            _pos += word.Length;
            return true;
        }

        private void Expect(char c)
        {
            SkipSpaces();
            if (_pos >= text.Length || text[_pos] != c)
                throw new FormatException($"expected '{c}' at offset {_pos}");
            _pos++;
        }

        private char Peek()
        {
            SkipSpaces();
            return _pos < text.Length ? text[_pos] : '\0';
        }

        public PythonValue ParseValue(int depth)
        {
            if (depth > 1000)
                throw new FormatException("nesting too deep");
            char c = Peek();
            if (TryWord("None")) return new None();
            if (TryWord("True")) return new Bool(true);
            if (TryWord("False")) return new Bool(false);
            if (TryWord("inf")) return new Float(double.PositiveInfinity);
            if (TryWord("-inf")) return new Float(double.NegativeInfinity);
            if (TryWord("nan")) return new Float(double.NaN);
            if (TryWord("set()")) return new Set([], false);
            if (TryWord("frozenset()")) return new Set([], true);
            if (TryWord("frozenset("))
            {
                var inner = ParseValue(depth + 1);
                Expect(')');
                return inner is Set s ? new Set(s.Items, true) : throw new FormatException("frozenset( must hold a set");
            }
            if (c == '\'' || c == '"') return new Str(ParseString());
            if (c == 'b' && _pos + 1 < text.Length && text[_pos + 1] is '\'' or '"')
            {
                _pos++;
                return new Bytes(ParseBytes());
            }
            if (c == '-' || char.IsAsciiDigit(c)) return ParseNumber();
            if (c == '[') return new List(ParseItems(']', depth));
            if (c == '(')
            {
                _pos++;
                var items = new List<PythonValue>();
                if (Peek() == ')') { _pos++; return new Tuple(items); }
                while (true)
                {
                    items.Add(ParseValue(depth + 1));
                    char next = Peek();
                    _pos++;
                    if (next == ')') break;
                    if (next != ',') throw new FormatException($"expected ',' or ')' at offset {_pos - 1}");
                    if (Peek() == ')') { _pos++; break; }
                }
                return new Tuple(items);
            }
            if (c == '{')
            {
                _pos++;
                if (Peek() == '}') { _pos++; return new Dict([]); }
                var first = ParseValue(depth + 1);
                if (Peek() == ':')
                {
                    var pairs = new List<KeyValuePair<PythonValue, PythonValue>>();
                    _pos++;
                    pairs.Add(new(first, ParseValue(depth + 1)));
                    while (Peek() == ',')
                    {
                        _pos++;
                        var k = ParseValue(depth + 1);
                        Expect(':');
                        pairs.Add(new(k, ParseValue(depth + 1)));
                    }
                    Expect('}');
                    return new Dict(pairs);
                }
                var elements = new List<PythonValue> { first };
                while (Peek() == ',')
                {
                    _pos++;
                    elements.Add(ParseValue(depth + 1));
                }
                Expect('}');
                return new Set(elements, false);
            }
            throw new FormatException($"unexpected character '{c}' at offset {_pos}");
        }

        private List<PythonValue> ParseItems(char close, int depth)
        {
            _pos++;
            var items = new List<PythonValue>();
            if (Peek() == close) { _pos++; return items; }
            while (true)
            {
                items.Add(ParseValue(depth + 1));
                char next = Peek();
                _pos++;
                if (next == close) return items;
                if (next != ',') throw new FormatException($"expected ',' or '{close}' at offset {_pos - 1}");
            }
        }

        private PythonValue ParseNumber()
        {
            int start = _pos;
            if (text[_pos] == '-') _pos++;
            bool isFloat = false;
            while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] is '.' or 'e' or 'E' or '+' || (text[_pos] == '-' && text[_pos - 1] is 'e' or 'E')))
            {
                isFloat |= text[_pos] is '.' or 'e' or 'E';
                _pos++;
            }
            string s = text[start.._pos];
            if (isFloat)
                return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
                    ? new Float(d) : throw new FormatException($"bad float '{s}' at offset {start}");
            return BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)
                ? new Int(i) : throw new FormatException($"bad int '{s}' at offset {start}");
        }

        private string ParseString()
        {
            char quote = text[_pos++];
            var sb = new StringBuilder();
            while (true)
            {
                if (_pos >= text.Length) throw new FormatException("unterminated string");
                char c = text[_pos++];
                if (c == quote) return sb.ToString();
                if (c != '\\') { sb.Append(c); continue; }
                char e = text[_pos++];
                switch (e)
                {
                    case 'x': sb.Append((char)Hex(2)); break;
                    case 'u': sb.Append((char)Hex(4)); break;
                    case 'U': sb.Append(char.ConvertFromUtf32(Hex(8))); break;
                    default: sb.Append(Simple(e)); break;
                }
            }
        }

        private byte[] ParseBytes()
        {
            char quote = text[_pos++];
            var bytes = new List<byte>();
            while (true)
            {
                if (_pos >= text.Length) throw new FormatException("unterminated bytes");
                char c = text[_pos++];
                if (c == quote) return bytes.ToArray();
                if (c != '\\') { bytes.Add((byte)c); continue; }
                char e = text[_pos++];
                bytes.Add(e == 'x' ? (byte)Hex(2) : (byte)Simple(e));
            }
        }

        private static char Simple(char e) => e switch
        {
            'n' => '\n', 't' => '\t', 'r' => '\r', '\\' => '\\', '\'' => '\'', '"' => '"',
            'a' => '\a', 'b' => '\b', 'f' => '\f', 'v' => '\v', '0' => '\0',
            _ => throw new FormatException($"unknown escape '\\{e}'"),
        };

        private int Hex(int digits)
        {
            if (_pos + digits > text.Length) throw new FormatException("truncated escape");
            int v = int.Parse(text.AsSpan(_pos, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            _pos += digits;
            return v;
        }
    }
}
