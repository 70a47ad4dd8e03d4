using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Rlef.Serving.Hosting;

/// <summary>Builds the JSON body of an error in a protocol's own shape from the status, a short type and a message.</summary>
public delegate JsonObject ErrorShape(int status, string type, string message);

/// <summary>Writing errors the same way everywhere: status, protocol-shaped JSON body, optional Retry-After.</summary>
public static class ErrorResponses
{
    /// <summary>OpenAI's shape: {"error": {"message", "type", "code"}}.</summary>
    public static JsonObject OpenAiShape(int status, string type, string message) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["code"] = status },
    };

    /// <summary>FastAPI's shape (what SandboxFusion answers): {"detail": message}.</summary>
    public static JsonObject FastApiShape(int status, string type, string message) => new() { ["detail"] = message };

    /// <summary>The shape configured for this service (set by <see cref="ServiceHost"/>).</summary>
    public static ErrorShape ShapeOf(HttpContext context) =>
        context.RequestServices.GetService(typeof(ServerOptions)) is ServerOptions o ? o.ErrorShape : OpenAiShape;

    public static Task WriteAsync(HttpContext context, int status, string type, string message, int? retryAfterSeconds = null)
    {
        var response = context.Response;
        if (response.HasStarted)
            return Task.CompletedTask;  // too late for a status; the connection is cut instead
        response.Clear();
        response.StatusCode = status;
        if (retryAfterSeconds is int seconds)
            response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.ContentType = "application/json";
        return response.WriteAsync(ShapeOf(context)(status, type, message).ToJsonString());
    }

    public static Task BadRequest(HttpContext context, string message) => WriteAsync(context, 400, "invalid_request_error", message);
}
