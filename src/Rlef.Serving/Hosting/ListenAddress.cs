using System.Globalization;
using System.Net;

namespace Rlef.Serving.Hosting;

/// <summary>
/// Where a service listens: `HOST:PORT` with HOST an IP address (`[::1]` for IPv6) or `localhost`; port 0 lets the
/// system pick a free one (the service announces the one it got).
/// </summary>
public sealed record ListenAddress(string Host, IPAddress? Address, int Port)
{
    public static ListenAddress Loopback(int port) => new("127.0.0.1", IPAddress.Loopback, port);

    /// <summary>true when only this machine can connect (127.0.0.0/8, ::1, localhost).</summary>
    public bool IsLoopback => Address == null ? Host == "localhost" : IPAddress.IsLoopback(Address);

    /// <summary>Parses `HOST:PORT`; throws <see cref="FormatException"/> with a one-line message.</summary>
    public static ListenAddress Parse(string text)
    {
        string s = text.Trim();
        int colon = s.LastIndexOf(':');
        if (colon <= 0 || colon == s.Length - 1)
            throw new FormatException($"listen address '{text}': expected HOST:PORT (e.g. 127.0.0.1:8080 or [::1]:8080)");
        string host = s[..colon], portText = s[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new FormatException($"listen address '{text}': port '{portText}' is not a number from 0 to 65535");
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            return new ListenAddress("localhost", null, port);
        if (!IPAddress.TryParse(host, out var address))
            throw new FormatException($"listen address '{text}': host '{host}' is neither an IP address nor localhost");
        return new ListenAddress(host, address, port);
    }

    public override string ToString() =>
        Address is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
