#!/usr/bin/env python3
"""Stand-in for the Supabase Storage REST API (wire-protocols.md B9).

  python3 tests/standins/supabase_standin.py --port P [--latency-ms N] [--key K]
                                             [--buckets a,b] [--public-buckets a]
                                             [--max-bytes N]

Objects live in memory with their Content-Type and Cache-Control. Routes:
POST/PUT/GET/HEAD/DELETE /storage/v1/object/{bucket}/{path}, GET/HEAD
/storage/v1/object/authenticated/... and /storage/v1/object/public/...
Errors use the real encoding: HTTP 400 with a string statusCode in the body
(404 NoSuchKey, 409 KeyAlreadyExists, 413, 415, 403 AccessDenied), 429, 500
and 544 as themselves, gateway 401s with only a "message".

Auth (with --key K): the gateway wants `apikey: K` (missing -> 401); a
legacy key must also come as `Authorization: Bearer K`; an sb_secret_ key
must not be sent as Bearer (it is not a JWT). Without --key any key passes.

Scripted outcomes ("match" is a substring of "bucket/path"): missing,
conflict, too_large, mime, server_error, slow_down, db_timeout,
gateway_401, timeout [sleep_ms], slow [delay_ms], error [status, code, error,
message].
GET /__objects lists what is stored (size, type, cache control, sha256).
"""

import email.utils
import hashlib
import re
import time
import urllib.parse
import uuid

import standin_http as sh

PREFIX = "/storage/v1/object/"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$")


def storage_error(http_status, status_code, code, error, message):
    return sh.json_response(http_status, {"statusCode": str(status_code), "code": code,
                                          "error": error, "message": message},
                            content_type="application/json; charset=utf-8")


def missing_object():
    return storage_error(400, 404, "NoSuchKey", "not_found", "Object not found")


FAULTS = {
    "missing": missing_object,
    "conflict": lambda: storage_error(400, 409, "KeyAlreadyExists", "Duplicate",
                                      "The resource already exists"),
    "too_large": lambda: storage_error(400, 413, "EntityTooLarge", "Payload too large",
                                       "The object exceeded the maximum allowed size"),
    "mime": lambda: storage_error(400, 415, "InvalidMimeType", "invalid_mime_type",
                                  "mime type image/gif is not supported"),
    "server_error": lambda: storage_error(500, 500, "InternalError", "InternalError",
                                          "Internal server error"),
    "slow_down": lambda: storage_error(429, 429, "SlowDown", "too_many_connections",
                                       "Too many connections issued to the database"),
    "db_timeout": lambda: storage_error(544, 544, "DatabaseTimeout", "DatabaseTimeout",
                                        "Timeout while acquiring a database connection"),
    "gateway_401": lambda: sh.json_response(401, {"message": "Invalid API key",
                                                  "hint": "Double check your Supabase `anon` "
                                                          "or `service_role` API key."}),
    "timeout": lambda: storage_error(504, 504, "DatabaseTimeout", "timeout", "Timed out"),
}


class StoredObject:
    def __init__(self, data, content_type, cache_control):
        self.data = data
        self.content_type = content_type
        self.cache_control = cache_control
        self.etag = '"%s"' % hashlib.md5(data).hexdigest()  # noqa: S324 (an ETag, not security)
        self.last_modified = email.utils.formatdate(time.time(), usegmt=True)
        self.id = str(uuid.uuid4())


class SupabaseApp:
    def __init__(self, key, buckets, public_buckets, max_bytes):
        self.key = key
        self.buckets = set(buckets) if buckets else None
        self.public_buckets = set(public_buckets)
        self.max_bytes = max_bytes
        self.objects = {}  # (bucket, path) -> StoredObject
        self.last_request = {}

    def control(self, body):
        if body.get("reset") or body.get("clear_objects"):
            self.objects = {}

    def extra_get(self, request):
        if request.path != "/__objects":
            return None
        return sh.json_response(200, {
            "%s/%s" % k: {"size": len(o.data), "content_type": o.content_type,
                          "cache_control": o.cache_control,
                          "sha256": hashlib.sha256(o.data).hexdigest()}
            for k, o in self.objects.items()})

    def parse(self, request):
        """(mode, bucket, path) of an object URL, or None."""
        if not request.path.startswith(PREFIX):
            return None
        rest = request.path[len(PREFIX):]
        mode = "object"
        for prefix in ("authenticated/", "public/"):
            if rest.startswith(prefix):
                mode = prefix[:-1]
                rest = rest[len(prefix):]
        if "/" not in rest:
            return None
        bucket, path = rest.split("/", 1)
        return mode, urllib.parse.unquote(bucket), urllib.parse.unquote(path)

    def match_text(self, request):
        parsed = self.parse(request)
        return "%s/%s" % parsed[1:] if parsed else request.path

    def last(self):
        return self.last_request

    def authorise(self, request):
        apikey = request.header("apikey")
        auth = request.header("authorization", "")
        bearer = auth[7:] if auth.lower().startswith("bearer ") else None
        if not apikey:
            return sh.json_response(401, {"message": "No API key found in request",
                                          "hint": "No `apikey` request header or url param "
                                                  "was found."})
        if self.key is None:
            return None
        if apikey != self.key:
            return sh.json_response(401, {"message": "Invalid API key"})
        if self.key.startswith("sb_secret_"):
            if bearer is not None:
                return storage_error(400, 403, "AccessDenied", "Unauthorized",
                                     "Invalid Compact JWS")
            return None
        if bearer != self.key:
            return storage_error(400, 403, "AccessDenied", "Unauthorized",
                                 "jwt malformed" if bearer else "Missing authorization")
        return None

    def handle(self, request, rule):
        parsed = self.parse(request)
        if parsed is None:
            return sh.json_response(404, {"message": "Route %s:%s not found"
                                          % (request.method, request.path),
                                          "error": "Not Found", "statusCode": 404})
        mode, bucket, path = parsed
        self.last_request = {"method": request.method, "bucket": bucket, "path": path,
                             "mode": mode, "apikey": request.header("apikey") is not None,
                             "bearer": request.header("authorization") is not None,
                             "content_type": request.header("content-type"),
                             "cache_control": request.header("cache-control"),
                             "x_upsert": request.header("x-upsert"),
                             "range": request.header("range"), "bytes": len(request.body)}
        if mode != "public":
            denied = self.authorise(request)
            if denied is not None:
                return denied
        if rule and rule.get("respond") in FAULTS:
            return FAULTS[rule["respond"]]()
        if rule and rule.get("respond") == "error":
            # A scripted error body, e.g. one that echoes the request's key.
            status = int(rule.get("status", 403))
            return storage_error(400 if status < 500 else status, status,
                                 rule.get("code", "AccessDenied"),
                                 rule.get("error", "Unauthorized"), rule.get("message", ""))
        if self.buckets is not None and bucket not in self.buckets or (
                mode == "public" and bucket not in self.public_buckets):
            return storage_error(400, 404, "NoSuchBucket", "Bucket not found",
                                 "Bucket not found")
        if not KEY_PATTERN.match(path):
            return storage_error(400, 400, "InvalidKey", "InvalidKey", "Invalid key: %s" % path)
        key = (bucket, path)
        if request.method in ("POST", "PUT") and mode == "object":
            return self.upload(request, key)
        if request.method in ("GET", "HEAD"):
            return self.download(request, key)
        if request.method == "DELETE" and mode == "object":
            if self.objects.pop(key, None) is None:
                return missing_object()
            return sh.json_response(200, {"message": "Successfully deleted"})
        return sh.json_response(404, {"message": "Route %s:%s not found"
                                      % (request.method, request.path),
                                      "error": "Not Found", "statusCode": 404})

    def upload(self, request, key):
        upsert = request.method == "PUT" or request.header("x-upsert") == "true"
        if key in self.objects and not upsert:
            return FAULTS["conflict"]()
        if self.max_bytes is not None and len(request.body) > self.max_bytes:
            return FAULTS["too_large"]()
        self.objects[key] = StoredObject(
            request.body, request.header("content-type", "application/octet-stream"),
            request.header("cache-control", "no-cache"))
        return sh.json_response(200, {"Id": self.objects[key].id, "Key": "%s/%s" % key})

    def download(self, request, key):
        obj = self.objects.get(key)
        if obj is None:
            return missing_object()
        headers = [("Content-Type", obj.content_type), ("Cache-Control", obj.cache_control),
                   ("ETag", obj.etag), ("Last-Modified", obj.last_modified),
                   ("Accept-Ranges", "bytes")]
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", request.header("range", "") or "")
        if m and obj.data and (m.group(1) or m.group(2)):
            size = len(obj.data)
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            if start >= size or start > end:
                return storage_error(400, 416, "InvalidRange", "InvalidRange",
                                     "The requested range is not satisfiable")
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
            return sh.Response(206, obj.data[start:end + 1], headers=headers)
        return sh.Response(200, obj.data, headers=headers)


def main():
    parser = sh.common_arguments("Supabase Storage REST stand-in")
    parser.add_argument("--buckets", default="", help="comma-separated buckets (default: any)")
    parser.add_argument("--public-buckets", default="", help="buckets served under /public/")
    parser.add_argument("--max-bytes", type=int, default=None, help="upload size limit")
    args = parser.parse_args()
    split = lambda s: [b for b in s.split(",") if b]  # noqa: E731
    sh.run(SupabaseApp(args.key, split(args.buckets), split(args.public_buckets),
                       args.max_bytes), args)


if __name__ == "__main__":
    main()
