using System.Text.Encodings.Web;
using System.Text.Json;

namespace Rlef.Environment;

/// <summary>
/// How the project writes JSON that people read (rollouts.jsonl, run.json, summary.json, timing.json, metrics.jsonl,
/// config.json, checkpoints' state.json, the miniature's files, generated datasets): still valid JSON, but only
/// what JSON requires is escaped (<c>"</c> as <c>\"</c>, backslash, control characters). Backticks, quotes,
/// <c>&lt;&gt;&amp;</c> and non-ASCII text stay as they are, instead of the serializer's default <c>\u0060</c>-style
/// escapes meant for embedding in HTML: a feedback message (full of backticks) reads in the file as the model saw it,
/// and <c>grep</c> finds it. Every JSON writer for people takes its encoder from here.
/// </summary>
public static class ReadableJson
{
    public static JavaScriptEncoder Encoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>Serializer options with nothing else changed: property names as declared, one line.</summary>
    public static JsonSerializerOptions Options { get; } = new() { Encoder = Encoder };

    /// <summary>Options for a <see cref="Utf8JsonWriter"/>.</summary>
    public static JsonWriterOptions WriterOptions(bool indented) => new() { Indented = indented, Encoder = Encoder };
}
