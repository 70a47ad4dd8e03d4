using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Rlef.Serving.Hosting;

/// <summary>
/// The request body cap. A body over the cap gets 413 in the protocol's shape. Up to <see cref="DrainFactor"/>
/// times the cap, the rest of the body is read and discarded first: a server that closes a connection with unread
/// data makes the kernel reset it, and the client may then lose the 413 and see only "connection reset". Larger
/// bodies are answered at once and the connection closed.
/// </summary>
internal static class BodySizeCap
{
    public const int DrainFactor = 4;

    public static async Task RunAsync(HttpContext context, RequestDelegate next, long cap)
    {
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        long? declared = context.Request.ContentLength;
        long drainable = cap * DrainFactor;
        if (declared > drainable || sizeFeature == null || sizeFeature.IsReadOnly)
        {
            // Kestrel's own limit (set to the cap) stays in force and raises BadHttpRequestException(413).
            if (declared > cap)
            {
                context.Response.Headers.Connection = "close";
                await Refuse(context, declared.Value, cap);
                return;
            }
            await next(context);
            return;
        }
        sizeFeature.MaxRequestBodySize = drainable + 1;  // we enforce the cap; Kestrel only the drain bound
        var original = context.Request.Body;
        var capped = new CappedStream(original, cap);
        context.Request.Body = capped;
        try
        {
            if (declared > cap)
                throw new BodyTooLargeException();
            await next(context);
        }
        catch (BodyTooLargeException)
        {
            context.Request.Body = original;
            try
            {
                await original.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (BadHttpRequestException)
            {
                context.Response.Headers.Connection = "close";  // more than the drain bound: stop reading
            }
            await Refuse(context, declared ?? capped.Seen, cap);
        }
        finally
        {
            context.Request.Body = original;
        }
    }

    private static Task Refuse(HttpContext context, long size, long cap) =>
        ErrorResponses.WriteAsync(context, 413, "invalid_request_error", $"request body of {(context.Request.ContentLength == null ? "more than " : "")}{size} bytes is larger than the limit of {cap} bytes");

    private sealed class BodyTooLargeException : Exception;

    /// <summary>A read-only view of the body that throws once more than the cap has been read.</summary>
    private sealed class CappedStream(Stream inner, long cap) : Stream
    {
        public long Seen { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken);
            Seen += n;
            if (Seen > cap)
                throw new BodyTooLargeException();
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Seen; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
