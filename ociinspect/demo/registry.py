"""The demo registry's ``/v2/`` API (distribution-spec v1.1), on the standard library.

Every request needs a Bearer token from the demo's token server (the first answer is the
``401`` with a challenge); manifests are answered with their ``Content-Type`` and
``Docker-Content-Digest``; blob downloads answer ``307`` to a pre-signed URL on the CDN origin;
tags and the catalog are paginated with ``Link`` headers; ``/referrers/<digest>`` lists the
manifests whose ``subject`` is that digest. Repositories under ``scratch/`` accept pushes
(blob uploads: POST, PATCH, PUT, monolithic and mounts; manifest PUT, checked). With rate
limits on, manifest requests carry Docker Hub's headers and GETs past the limit answer 429.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..values import mediatypes as mt
from .content import MAX_MANIFEST_BYTES, SCRATCH_MAX_UPLOADS, ScratchFull, sha256
from .http import BodyTooLarge, Handler
from .tokens import SERVICE

if TYPE_CHECKING:
    from . import DemoRegistry

_NAME = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
_ROUTES = [
    ("manifest", re.compile(rf"/v2/(?P<name>{_NAME})/manifests/(?P<ref>[^/]+)")),
    ("upload", re.compile(rf"/v2/(?P<name>{_NAME})/blobs/uploads/(?P<id>[0-9a-f-]*)")),
    ("blob", re.compile(rf"/v2/(?P<name>{_NAME})/blobs/(?P<ref>[^/]+)")),
    ("tags", re.compile(rf"/v2/(?P<name>{_NAME})/tags/list")),
    ("referrers", re.compile(rf"/v2/(?P<name>{_NAME})/referrers/(?P<ref>[^/]+)")),
]
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
#: Page size of tag and catalog listings when the client names none.
DEFAULT_PAGE = 100
API_HEADERS = {"Docker-Distribution-API-Version": "registry/2.0"}


class Uploads:
    """Blob uploads in progress: id -> (repository, bytes so far). Bounded in count."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, bytearray]] = {}
        self._lock = threading.Lock()

    def open(self, name: str) -> str | None:
        with self._lock:
            if len(self._items) >= SCRATCH_MAX_UPLOADS:
                return None
            upload = str(uuid.uuid4())
            self._items[upload] = (name, bytearray())
            return upload

    def get(self, upload: str, name: str) -> bytearray | None:
        with self._lock:
            found = self._items.get(upload)
        return found[1] if found is not None and found[0] == name else None

    def close(self, upload: str) -> None:
        with self._lock:
            self._items.pop(upload, None)

    def pending_bytes(self) -> int:
        with self._lock:
            return sum(len(data) for _, data in self._items.values())


class RegistryHandler(Handler):
    """The ``/v2/`` routes. ``self.server.app`` is the :class:`~ociinspect.demo.DemoRegistry`."""

    @property
    def app(self) -> DemoRegistry:
        return self.server.app  # type: ignore[no-any-return]

    origin = "registry"

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        for name, value in API_HEADERS.items():
            self.send_header(name, value)

    def do_GET(self) -> None:
        self._route()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # -- routing and auth ---------------------------------------------------------------------

    def _route(self) -> None:
        path = self.path_only
        if path in ("/v2", "/v2/"):
            if self._authorized(None, "pull"):
                self.answer_json(200, {})
            return
        if path == "/v2/_catalog":
            if self._authorized(("registry", "catalog"), "*"):
                self._catalog()
            return
        for kind, pattern in _ROUTES:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            name = match.group("name")
            write = self.command in ("POST", "PUT", "PATCH", "DELETE")
            if self._authorized(("repository", name), "push" if write else "pull"):
                getattr(self, f"_{kind}")(name, match.groupdict())
            return
        self.discard_body()
        self.oci_error(404, "NAME_UNKNOWN", f"no route for {self.command} {path}")

    def _authorized(self, resource: tuple[str, str] | None, action: str) -> bool:
        """True when the request's Bearer token grants ``action``; else answers 401."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        tokens = self.app.tokens
        if scheme.lower() == "bearer" and token:
            if resource is None and tokens.valid(token):
                return True
            if resource is not None and tokens.allows(token, resource[0], resource[1], action):
                return True
        self.discard_body()
        challenge = f'Bearer realm="{self.app.token_url}",service="{SERVICE}"'
        if resource is not None:
            actions = "pull,push" if action == "push" else action
            challenge += f',scope="{resource[0]}:{resource[1]}:{actions}"'
            if header:
                challenge += ',error="insufficient_scope"'
        message = "authentication required" if not header else "insufficient scope for this request"
        self.oci_error(
            401,
            "UNAUTHORIZED",
            message,
            headers={"WWW-Authenticate": challenge},
        )
        return False

    # -- manifests ----------------------------------------------------------------------------

    def _manifest(self, name: str, groups: dict[str, Any]) -> None:
        reference = groups["ref"]
        if self.command == "PUT":
            self._put_manifest(name, reference)
            return
        if self.command not in ("GET", "HEAD"):
            self.discard_body()
            self.oci_error(405, "UNSUPPORTED", "the demo does not delete manifests")
            return
        found = self.app.store.resolve(name, reference)
        headers = self.app.rate_headers()
        if found is None:
            self.oci_error(
                404,
                "MANIFEST_UNKNOWN",
                "manifest unknown",
                {"name": name, "reference": reference},
                headers,
            )
            return
        if self.command == "GET":
            refused = self.app.take_pull()
            headers = self.app.rate_headers()
            if refused is not None:
                self.oci_error(
                    429,
                    "TOOMANYREQUESTS",
                    refused,
                    None,
                    {**headers, "Retry-After": str(self.app.retry_after)},
                )
                return
        digest, media_type = found
        body = self.app.store.data[digest]
        headers.update({"Docker-Content-Digest": digest, "ETag": f'"{digest}"'})
        self.answer(200, body, headers, content_type=media_type)

    def _put_manifest(self, name: str, reference: str) -> None:
        store = self.app.store
        if not store.writable(name):
            self.discard_body()
            self.oci_error(403, "DENIED", f"{name} is read-only; push to scratch/<name>")
            return
        try:
            body = self.read_body(MAX_MANIFEST_BYTES)
        except BodyTooLarge:
            self.close_connection = True
            self.oci_error(413, "SIZE_INVALID", f"manifests are at most {MAX_MANIFEST_BYTES} bytes")
            return
        media_type = mt.strip_parameters(self.headers.get("Content-Type"))
        problem = _manifest_problem(store, name, reference, body, media_type)
        if problem is not None:
            self.oci_error(400, *problem)
            return
        assert media_type is not None
        try:
            digest = store.put_manifest(name, reference, body, media_type)
        except ScratchFull as exc:
            self.oci_error(413, "DENIED", str(exc))
            return
        headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
        subject = json.loads(body).get("subject")
        if isinstance(subject, dict) and subject.get("digest"):
            headers["OCI-Subject"] = str(subject["digest"])
        self.answer(201, b"", headers)

    # -- blobs --------------------------------------------------------------------------------

    def _blob(self, name: str, groups: dict[str, Any]) -> None:
        digest = groups["ref"]
        if self.command not in ("GET", "HEAD"):
            self.discard_body()
            self.oci_error(405, "UNSUPPORTED", "the demo does not delete blobs")
            return
        if not _DIGEST.fullmatch(digest):
            self.oci_error(400, "DIGEST_INVALID", f"not a sha256 digest: {digest}")
            return
        data = self.app.store.blob(name, digest)
        if data is None:
            self.oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
            return
        if self.command == "HEAD":
            self.answer(
                200,
                b"",
                {"Docker-Content-Digest": digest},
                content_type="application/octet-stream",
                length=len(data),
            )
            return
        self.answer(307, b"", {"Location": self.app.cdn_location(digest)})

    def _upload(self, name: str, groups: dict[str, Any]) -> None:
        store, uploads = self.app.store, self.app.uploads
        if not store.writable(name):
            self.discard_body()
            self.oci_error(403, "DENIED", f"{name} is read-only; push to scratch/<name>")
            return
        upload = groups["id"]
        query = self.query
        if self.command == "POST" and not upload:
            mounted = "mount" in query and "from" in query
            if mounted and store.mount(name, query["mount"], query["from"]):
                self._created(name, query["mount"])
                return
            if "digest" in query:
                self._finish(name, bytearray(), query["digest"], None)
                return
            opened = uploads.open(name)
            if opened is None:
                self.discard_body()
                self.oci_error(429, "TOOMANYREQUESTS", "too many uploads in progress")
                return
            self.answer(202, b"", self._upload_headers(name, opened, 0))
            return
        data = uploads.get(upload, name)
        if data is None:
            self.discard_body()
            self.oci_error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
            return
        if self.command == "GET":
            self.answer(204, b"", self._upload_headers(name, upload, len(data)))
        elif self.command == "DELETE":
            uploads.close(upload)
            self.answer(204)
        elif self.command == "PATCH":
            if self._append(data, upload):
                self.answer(202, b"", self._upload_headers(name, upload, len(data)))
        elif self.command == "PUT":
            self._finish(name, data, query.get("digest", ""), upload)
        else:
            self.oci_error(405, "UNSUPPORTED", f"{self.command} on an upload")

    def _append(self, data: bytearray, upload: str | None) -> bool:
        """Append the request body to ``data`` within the scratch space's room."""
        room = self.app.scratch_room()
        try:
            data += self.read_body(max(0, room - len(data)))
        except BodyTooLarge:
            if upload is not None:
                self.app.uploads.close(upload)
            self.close_connection = True
            self.oci_error(413, "SIZE_INVALID", "the demo's scratch space is full")
            return False
        return True

    def _finish(self, name: str, data: bytearray, digest: str, upload: str | None) -> None:
        if not self._append(data, upload):
            return
        if upload is not None:
            self.app.uploads.close(upload)
        if not _DIGEST.fullmatch(digest) or sha256(bytes(data)) != digest:
            self.oci_error(
                400,
                "DIGEST_INVALID",
                "provided digest did not match uploaded content",
                {"digest": digest, "computed": sha256(bytes(data))},
            )
            return
        try:
            self.app.store.put_blob(name, bytes(data))
        except ScratchFull as exc:
            self.oci_error(413, "DENIED", str(exc))
            return
        self._created(name, digest)

    def _created(self, name: str, digest: str) -> None:
        self.answer(
            201, b"", {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
        )

    def _upload_headers(self, name: str, upload: str, size: int) -> dict[str, str]:
        return {
            "Location": f"/v2/{name}/blobs/uploads/{upload}",
            "Docker-Upload-UUID": upload,
            "Range": f"0-{max(0, size - 1)}",
        }

    # -- listings -----------------------------------------------------------------------------

    def _tags(self, name: str, groups: dict[str, Any]) -> None:
        repo = self.app.store.repository(name)
        if repo is None:
            self.oci_error(
                404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name}
            )
            return
        page, link = self._page(sorted(repo.tags), f"/v2/{name}/tags/list")
        self.answer_json(200, {"name": name, "tags": page}, link)

    def _catalog(self) -> None:
        page, link = self._page(sorted(self.app.store.repositories), "/v2/_catalog")
        self.answer_json(200, {"repositories": page}, link)

    def _page(self, items: list[str], path: str) -> tuple[list[str], dict[str, str]]:
        query = self.query
        try:
            size = max(0, min(int(query.get("n", DEFAULT_PAGE)), 1000))
        except ValueError:
            size = DEFAULT_PAGE
        last = query.get("last")
        if last is not None:
            items = [i for i in items if i > last]
        page = items[:size]
        if len(items) > size and page:
            link = f'<{path}?last={quote(page[-1], safe="")}&n={size}>; rel="next"'
            return page, {"Link": link}
        return page, {}

    def _referrers(self, name: str, groups: dict[str, Any]) -> None:
        digest = groups["ref"]
        if not _DIGEST.fullmatch(digest):
            self.oci_error(400, "DIGEST_INVALID", f"not a sha256 digest: {digest}")
            return
        if self.app.store.repository(name) is None:
            self.oci_error(
                404, "NAME_UNKNOWN", "repository name not known to registry", {"name": name}
            )
            return
        found = self.app.store.referrers(name, digest)
        headers = {}
        wanted = self.query.get("artifactType")
        if wanted:
            found = [entry for entry in found if entry.get("artifactType") == wanted]
            headers["OCI-Filters-Applied"] = "artifactType"
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found},
            separators=(",", ":"),
        ).encode()
        self.answer(200, body, headers, content_type=mt.OCI_INDEX)


def _manifest_problem(
    store: Any, name: str, reference: str, body: bytes, media_type: str | None
) -> tuple[str, str] | None:
    """(code, message) of what is wrong with a pushed manifest, or None."""
    if media_type not in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        return "MANIFEST_INVALID", f"Content-Type {media_type!r} is not a manifest media type"
    if ":" in reference and reference != sha256(body):
        return "DIGEST_INVALID", f"the body's digest is {sha256(body)}, not {reference}"
    if ":" not in reference and not _TAG.fullmatch(reference):
        return "TAG_INVALID", f"{reference!r} is not a valid tag"
    try:
        doc = json.loads(body)
    except ValueError:
        return "MANIFEST_INVALID", "the body is not JSON"
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        return "MANIFEST_INVALID", "a manifest is a JSON object with schemaVersion 2"
    if doc.get("mediaType") not in (None, media_type):
        shown = doc.get("mediaType")
        return "MANIFEST_INVALID", f"mediaType {shown!r} but Content-Type {media_type}"
    if media_type in mt.INDEX_TYPES:
        children = doc.get("manifests")
        if not isinstance(children, list):
            return "MANIFEST_INVALID", "an index needs a manifests list"
        for child in children:
            if not isinstance(child, dict) or store.resolve(name, str(child.get("digest"))) is None:
                return "MANIFEST_UNKNOWN", f"the index lists {child!r}, not in {name}"
        return None
    listed = [doc.get("config"), *(doc.get("layers") or [])]
    for desc in listed:
        if not isinstance(desc, dict) or store.blob(name, str(desc.get("digest"))) is None:
            return "MANIFEST_BLOB_UNKNOWN", f"blob {desc!r} is not in {name}: push it first"
        if len(store.data[desc["digest"]]) != desc.get("size"):
            return "MANIFEST_INVALID", f"descriptor size of {desc['digest']} is wrong"
    return None


__all__ = ["API_HEADERS", "DEFAULT_PAGE", "RegistryHandler", "Uploads"]
