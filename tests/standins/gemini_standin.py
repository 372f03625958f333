#!/usr/bin/env python3
"""Stand-in for the Gemini REST generateContent API (wire-protocols.md A11).

  python3 tests/standins/gemini_standin.py --port P [--latency-ms N] [--key K]
                                           [--models a,b]

POST /v1beta/models/<id>:generateContent with the key in x-goog-api-key or
?key=. Requests are validated like the real front end (snake_case or
camelCase, unknown fields -> 400, base64 image data, MIME types); replies are
camelCase with a real PNG (or JPEG) image, modelVersion and usageMetadata.

Scripted outcomes (see standin_http.py for the rule format; "match" is a
substring of the prompt text): rate_limit [retry_delay], rate_limit_bare,
rate_limit_per_day, server_error [status 500|503|504], error [status,
status_text, message], timeout [sleep_ms], slow [delay_ms], blocked_prompt
[block_reason], finish [finish_reason, text], text_only [text],
garbage_body [body], truncated, thought_parts, jpeg_output, image_only,
bad_image [kind truncated|corrupt|bomb] (a well-formed reply whose PNG is
cut in half, has a broken chunk, or claims 16000x16000 pixels in its header
over a few kilobytes of data), inline [mime_type, payload png|jpeg|html] (an
image part labelled with any MIME type), and text_only [text_bytes N] (a
text reply of N bytes with forged log lines and escape codes in it). Any
reply takes usage (any JSON for usageMetadata) and model_version (any text).
"""

import base64
import binascii
import hashlib
import json
import re
import struct
import zlib

import standin_http as sh

DEFAULT_MODELS = ["gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-2.5-flash-image"]

TINY_JPEG = base64.b64decode(
    "/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19i"
    "Z2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEB"
    "AQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1Fh"
    "ByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZ"
    "WmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXG"
    "x8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAEC"
    "AwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHB"
    "CSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0"
    "dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX"
    "2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDpKKKKAP/Z")

SUPPORTED_MIME = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
ASPECT_RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9",
                 "1:4", "4:1", "1:8", "8:1"}
MODALITIES = {"TEXT", "IMAGE", "AUDIO", "VIDEO", "MODALITY_UNSPECIFIED"}

# Accepted request fields (camelCase; snake_case is mapped before the
# lookup). None = any value; dict = an object; [dict] = a list of objects.
BLOB = {"mimeType": None, "data": None}
PART = {"text": None, "inlineData": BLOB, "fileData": {"mimeType": None, "fileUri": None},
        "thought": None, "thoughtSignature": None, "functionCall": None,
        "functionResponse": None, "executableCode": None, "codeExecutionResult": None,
        "videoMetadata": None}
CONTENT = {"role": None, "parts": [PART]}
GENERATION_CONFIG = {
    "responseModalities": None, "imageConfig": {"aspectRatio": None, "imageSize": None},
    "temperature": None, "topP": None, "topK": None, "candidateCount": None,
    "maxOutputTokens": None, "stopSequences": None, "seed": None, "responseMimeType": None,
    "responseSchema": None, "responseJsonSchema": None, "presencePenalty": None,
    "frequencyPenalty": None, "responseLogprobs": None, "logprobs": None,
    "thinkingConfig": {"includeThoughts": None, "thinkingBudget": None, "thinkingLevel": None},
    "speechConfig": None, "mediaResolution": None}
REQUEST = {"contents": [CONTENT], "systemInstruction": CONTENT,
           "generationConfig": GENERATION_CONFIG,
           "safetySettings": [{"category": None, "threshold": None, "method": None}],
           "tools": None, "toolConfig": None, "cachedContent": None}


class BadRequest(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def normalise(value, spec, path):
    """Returns `value` with camelCase keys; raises BadRequest on unknown fields."""
    if spec is None:
        return value
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise BadRequest("Invalid value at '%s', expected a list" % path, path)
        return [normalise(v, spec[0], "%s[%d]" % (path, i)) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise BadRequest("Invalid value at '%s', expected an object" % path, path)
    out = {}
    for key, v in value.items():
        name = camel(key)
        if name not in spec:
            where = path or "request"
            raise BadRequest('Invalid JSON payload received. Unknown name "%s" at \'%s\': '
                             "Cannot find field." % (key, where), where)
        child = snake(name) if not path else path + "." + snake(name)
        out[name] = normalise(v, spec[name], child)
    return out


def decode_bytes(text):
    """proto3 `bytes`: standard or URL-safe base64, padded or not."""
    text = text.rstrip("=")
    text += "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(text)
    return base64.b64decode(text, validate=True)


def sniff(data):
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "image/heic" if data[8:12] in (b"heic", b"heix", b"hevc") else "image/heif"
    return None


def make_png(seed, size=32):
    """A real, decodable RGB PNG whose colour depends on `seed`."""
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).digest()
    r, g, b = digest[0], digest[1], digest[2]
    rows = b"".join(b"\x00" + bytes([r, (g + y * 4) % 256, b]) * size for y in range(size))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_bomb_png(size=16000):
    """A PNG whose header says size x size RGB pixels (768 MB decoded at
    16000) over the compressed data of its first rows only: a decompression
    bomb that costs nothing to send, refused from its header."""
    row = b"\x00" + b"\x00" * (size * 3)

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * 16)) + chunk(b"IEND", b""))


def forged_text(size):
    """`size` bytes of text made of lines that would forge log entries and
    drive a terminal if a logger printed them raw."""
    unit = "I cannot draw that.\n2026-01-01T00:00:00Z info Job finished\x1b[2K\r"
    return (unit * (size // len(unit) + 1))[:size]


def google_error(code, status, message, details=None):
    error = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return sh.json_response(code, {"error": error})


STATUS_TEXT = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
               504: "DEADLINE_EXCEEDED"}


def quota_failure(quota_id, model):
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric":
                            "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": quota_id,
                            "quotaDimensions": {"location": "global", "model": model},
                            "quotaValue": "2"}]}


HELP = {"@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Learn more about Gemini API quotas",
                   "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]}


class GeminiApp:
    def __init__(self, key, models):
        self.key = key
        self.models = set(models)
        self.last_request = {}

    def match_text(self, request):
        try:
            body = json.loads(request.body or b"{}")
            texts = [p.get("text", "") for c in body.get("contents", [])
                     for p in c.get("parts", []) if isinstance(p, dict)]
            return "\n".join(t for t in texts if isinstance(t, str))
        except (ValueError, AttributeError, TypeError):
            return ""

    def last(self):
        return self.last_request

    def handle(self, request, rule):
        m = re.fullmatch(r"/v1beta/models/([^/:]+):generateContent", request.path)
        if m is None or request.method != "POST":
            return google_error(404, "NOT_FOUND", "Method not found.")
        key = request.header("x-goog-api-key") or request.query.get("key")
        if not key:
            return google_error(403, "PERMISSION_DENIED",
                                "Method doesn't allow unregistered callers (callers without "
                                "established identity). Please use API Key or other form of API "
                                "consumer identity to call this API.")
        if self.key is not None and key != self.key:
            return google_error(400, "INVALID_ARGUMENT",
                                "API key not valid. Please pass a valid API key.",
                                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                  "reason": "API_KEY_INVALID",
                                  "domain": "googleapis.com"}])
        model = m.group(1)
        if model not in self.models:
            return google_error(404, "NOT_FOUND",
                                "models/%s is not found for API version v1beta, or is not "
                                "supported for generateContent. Call ListModels to see the "
                                "list of available models and their supported methods." % model)
        try:
            summary = self.validate(request, model, key)
        except BadRequest as e:
            details = None
            if e.field is not None:
                details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": e.field, "description": e.message}]}]
            return google_error(400, "INVALID_ARGUMENT", e.message, details)
        self.last_request = summary
        return self.outcome(rule or {}, model, summary["prompt"])

    def validate(self, request, model, key):
        try:
            raw = json.loads(request.body)
        except ValueError:
            raise BadRequest("Invalid JSON payload received. Unexpected token.")
        body = normalise(raw, REQUEST, "")
        contents = body.get("contents") or []
        if not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        parts_seen = []
        prompt = []
        for content in contents:
            for part in content.get("parts") or []:
                if "text" in part:
                    prompt.append(part["text"])
                    parts_seen.append({"kind": "text", "chars": len(part["text"])})
                elif "inlineData" in part:
                    blob = part["inlineData"]
                    mime = blob.get("mimeType", "")
                    if mime not in SUPPORTED_MIME:
                        raise BadRequest("Unsupported MIME type: %s" % mime)
                    try:
                        data = decode_bytes(blob.get("data", ""))
                    except (binascii.Error, ValueError):
                        raise BadRequest("Invalid value at 'contents.parts.inline_data.data' "
                                         "(TYPE_BYTES), Base64 decoding failed")
                    shown = sniff(data)
                    if shown is None or shown != mime:
                        raise BadRequest("Provided image is not valid")
                    parts_seen.append({"kind": "image", "mime_type": mime, "bytes": len(data),
                                       "sha256": hashlib.sha256(data).hexdigest()})
        config = body.get("generationConfig") or {}
        modalities = config.get("responseModalities")
        if modalities is not None:
            if not isinstance(modalities, list) or any(
                    not isinstance(v, str) or v.upper() not in MODALITIES for v in modalities):
                raise BadRequest("Invalid value at 'generation_config.response_modalities'",
                                 "generation_config.response_modalities")
        aspect = (config.get("imageConfig") or {}).get("aspectRatio")
        if aspect is not None and aspect not in ASPECT_RATIOS:
            raise BadRequest("Unsupported aspect ratio: %s" % aspect)
        return {"model": model, "auth": "header" if request.header("x-goog-api-key") else "query",
                "content_type": request.header("content-type"),
                "snake_case": "_" in json.dumps(list(raw.keys())) or '"inline_data"' in
                              request.body.decode("utf-8", "replace"),
                "prompt": "\n".join(prompt), "parts": parts_seen,
                "roles": [c.get("role") for c in contents],
                "response_modalities": modalities, "aspect_ratio": aspect}

    def outcome(self, rule, model, prompt):
        respond = rule.get("respond")
        usage = {"promptTokenCount": 323, "candidatesTokenCount": 1290, "totalTokenCount": 1613,
                 "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 65},
                                         {"modality": "IMAGE", "tokenCount": 258}]}
        # Hostile metadata on any reply: any JSON as usageMetadata, any text
        # as modelVersion.
        usage = rule.get("usage", usage)
        model = rule.get("model_version", model)

        def reply(candidates=None, feedback=None):
            body = {}
            if candidates is not None:
                body["candidates"] = candidates
            if feedback is not None:
                body["promptFeedback"] = feedback
            body["usageMetadata"] = usage
            body["modelVersion"] = model
            body["responseId"] = hashlib.sha1(prompt.encode("utf-8", "replace")).hexdigest()[:22]
            return sh.json_response(200, body)

        def candidate(parts, finish="STOP"):
            c = {"finishReason": finish, "index": 0}
            if parts is not None:
                c["content"] = {"role": "model", "parts": parts}
            return c

        def inline(data, mime):
            return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}

        if respond == "rate_limit":
            delay = rule.get("retry_delay", "1s")
            return google_error(429, "RESOURCE_EXHAUSTED",
                                "You exceeded your current quota. Please retry in %s." % delay,
                                [quota_failure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                                               model), HELP,
                                 {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                  "retryDelay": delay}])
        if respond == "rate_limit_bare":
            return google_error(429, "RESOURCE_EXHAUSTED",
                                "Resource has been exhausted (e.g. check quota).")
        if respond == "rate_limit_per_day":
            return google_error(429, "RESOURCE_EXHAUSTED",
                                "You exceeded your current quota, please check your plan.",
                                [quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier",
                                               model), HELP,
                                 {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                  "retryDelay": rule.get("retry_delay", "20s")}])
        if respond in ("server_error", "error"):
            status = int(rule.get("status", 500 if respond == "server_error" else 400))
            messages = {500: "An internal error has occurred. Please retry or report in "
                             "https://developers.generativeai.google/guide/troubleshooting",
                        503: "The model is overloaded. Please try again later.",
                        504: "The request timed out. Please try again."}
            return google_error(status, rule.get("status_text", STATUS_TEXT.get(status, "UNKNOWN")),
                                rule.get("message", messages.get(status, "Request failed.")))
        if respond == "timeout":
            return google_error(504, "DEADLINE_EXCEEDED", "Deadline expired before operation "
                                "could complete.")
        if respond == "blocked_prompt":
            return reply(feedback={"blockReason": rule.get("block_reason", "PROHIBITED_CONTENT"),
                                   "safetyRatings": [{"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
                                                      "probability": "NEGLIGIBLE"}]})
        if respond == "finish":
            parts = [{"text": rule["text"]}] if rule.get("text") else None
            return reply([candidate(parts, rule.get("finish_reason", "IMAGE_SAFETY"))])
        if respond == "text_only":
            text = rule.get("text", "I can describe the scene, but I cannot draw it.")
            if "text_bytes" in rule:
                text = forged_text(int(rule["text_bytes"]))
            return reply([candidate([{"text": text}])])
        if respond == "garbage_body":
            return sh.Response(200, rule.get("body", "<html><body>upstream error</body></html>"),
                               "text/html; charset=UTF-8")
        if respond == "truncated":
            return sh.Response(200, '{"candidates":[{"content":{"parts":[{"inlineData":{"mi',
                               "application/json; charset=UTF-8")
        png = make_png(prompt)
        if respond == "thought_parts":
            return reply([candidate([
                {"text": "Planning the composition...", "thought": True},
                dict(inline(TINY_JPEG, "image/jpeg"), thought=True),
                {"text": "Here is the final image."},
                dict(inline(png, "image/png"), thoughtSignature="c2lnbmF0dXJl")])])
        if respond == "jpeg_output":
            return reply([candidate([dict(inline(TINY_JPEG, "image/jpeg"),
                                          thoughtSignature="c2lnbmF0dXJl")])])
        if respond == "image_only":
            return reply([candidate([inline(png, "image/png")])])
        if respond == "bad_image":
            if rule.get("kind", "truncated") == "truncated":
                bad = png[:len(png) // 2]
            elif rule["kind"] == "bomb":
                bad = make_bomb_png()
            else:  # corrupt: the IDAT payload overwritten, so its CRC fails
                bad = png[:41] + bytes(len(png) - 41 - 12) + png[-12:]
            return reply([candidate([inline(bad, "image/png")])])
        if respond == "inline":
            payload = {"png": png, "jpeg": TINY_JPEG,
                       "html": b"<html><body>not an image</body></html>"}[
                           rule.get("payload", "png")]
            return reply([candidate([inline(payload, rule.get("mime_type", "image/png"))])])
        return reply([candidate([{"text": "Here is the composed image."},
                                 inline(png, "image/png")])])


def main():
    parser = sh.common_arguments("Gemini generateContent stand-in")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated model ids that exist")
    args = parser.parse_args()
    sh.run(GeminiApp(args.key, [m for m in args.models.split(",") if m]), args)


if __name__ == "__main__":
    main()
