"""Amazon ECR (private registries): ``<account>.dkr.ecr.<region>.amazonaws.com`` with Basic
authentication only; blobs from presigned S3 URLs on ``prod-<region>-starport-layer-bucket``.

Two fronts (``127.0.15.1``, ``.2`` by default), account ``123456789012``, region ``us-east-1``.
Behaviours and their sources:

Registry (``123456789012.dkr.ecr.us-east-1.amazonaws.com``)
    - Every request needs ``Authorization: Basic base64(AWS:<password>)``; without it (or with a
      password it never issued) the answer is ``401``, ``Www-Authenticate: Basic
      realm="https://<host>/",service="ecr.amazonaws.com"``, ``Docker-Distribution-Api-Version:
      registry/2.0`` and the 15-byte ``text/plain`` body ``Not Authorized`` plus a newline
      (captured in NVIDIA/enroot#59 and #143; realm and service also asserted against a live
      registry in seqera's wave ``ProxyClientTest``). There is no token endpoint.
    - The password is what ``aws ecr get-login-password`` prints (GetAuthorizationToken), user
      ``AWS``, valid for 12 hours (https://docs.aws.amazon.com/cli/latest/reference/ecr/get-login-password.html,
      https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html).
      Its content is opaque; the rig makes base64 JSON of the observed shape
      (``payload``, ``datakey``, ``version``, ``type``, ``expiration``).
    - An expired password: ``403`` ``{"errors":[{"code":"DENIED","message":"Your authorization
      token has expired. Reauthenticate and try again."}]}`` (docker prints ``denied: Your
      authorization token has expired. Reauthenticate and try again.``; AWS's ECR Public
      troubleshooting page shows the same text).
    - A repository that does not exist: ``404`` ``NAME_UNKNOWN`` "The repository with name
      '<name>' does not exist in the registry with id '<account>'" (docker: ``name unknown: The
      repository with name … does not exist in the registry with id …``). A manifest that does
      not exist: ``404`` ``MANIFEST_UNKNOWN`` "Requested image not found".
    - Blob GET: ``307`` to a presigned S3 URL on ``prod-<region>-starport-layer-bucket.s3.<region>
      .amazonaws.com`` (the bucket the ECR VPC-endpoint docs tell you to allow:
      https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html) with
      ``X-Amz-Security-Token``, ``X-Amz-Algorithm=AWS4-HMAC-SHA256``, ``X-Amz-Date``,
      ``X-Amz-SignedHeaders=host``, ``X-Amz-Expires``, ``X-Amz-Credential`` and
      ``X-Amz-Signature`` (open-policy-agent/opa#6580 shows the 307 and the S3 request).

    - Throttled: ``429`` ``{"errors":[{"code":"TOOMANYREQUESTS","message":"Rate exceeded"}]}``
      (the ECR user guide's common errors: "you may see the error message TOOMANYREQUESTS: Rate
      exceeded", quoted in mitogen-hq/mitogen#790; docker prints ``toomanyrequests: Rate
      exceeded``). Setting ``throttle``: that many manifest requests get it.

S3 (``prod-us-east-1-starport-layer-bucket.s3.us-east-1.amazonaws.com``)
    - A request that carries ``Authorization`` besides the presigned query gets ``400``
      ``<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed; only the
      X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization
      header should be specified</Message><ArgumentName>Authorization</ArgumentName>
      <ArgumentValue>…</ArgumentValue>…`` -- and, as S3 does, echoes the header's value in
      ``ArgumentValue`` (renovatebot/renovate#3877 quotes ``<ArgumentValue>Bearer
      some-bearer-token</ArgumentValue>``; opa#6580 the ECR case). A client that forwards its ECR
      password to S3 therefore gets it back in an error body: it must not print that body.
    - Wrong signature: ``403`` ``SignatureDoesNotMatch``; past ``X-Amz-Date + X-Amz-Expires``:
      ``403`` ``AccessDenied`` "Request has expired" (S3's documented error codes,
      https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from rig.httpd import Response

from .backend import Backend
from .common import (
    API_VERSION,
    WEEK,
    Credentials,
    Repo,
    Route,
    Service,
    Signer,
    Site,
    forward_with,
    json_response,
    oci_error,
    parse_basic,
    parse_route,
    presigned_query,
    presigned_refusal,
    read_only,
    require_range,
    serve_file,
    text_response,
    xml_error,
)
from .front import Counters, Request

ACCOUNT = "123456789012"
REGION = "us-east-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
S3_HOST = f"prod-{REGION}-starport-layer-bucket.s3.{REGION}.amazonaws.com"
USER = "AWS"
CHALLENGE = f'Basic realm="https://{HOST}/",service="ecr.amazonaws.com"'
EXPIRED_MESSAGE = "Your authorization token has expired. Reauthenticate and try again."
ONE_AUTH_MESSAGE = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified"
)
_S3_PATH = re.compile(r"^/([a-f0-9]{4})-" + ACCOUNT + r"-([a-f0-9-]{36})/([a-f0-9]{64})$")

REPOSITORIES = {
    "ociinspect/multi": Repo("demo/multi", "private"),
    "ociinspect/single": Repo("demo/single", "private"),
    "ociinspect/dockerlist": Repo("demo/dockerlist", "private"),
    "ociinspect/big": Repo("demo/big", "private"),
}


@dataclass(frozen=True)
class Settings:
    """ECR's knobs: the password's lifetime (12 h) and the S3 URL's ``X-Amz-Expires``."""

    password_lifetime: int = 43200  # 0: the password is already expired
    cdn_url_lifetime: int = 3600
    throttle: int = 0  # manifest requests answered 429 after a reset
    ip_block: int = 15

    def __post_init__(self) -> None:
        require_range(self, 0, 43200, "password_lifetime")  # 0: already expired
        require_range(self, 0, WEEK, "cdn_url_lifetime")
        require_range(self, 0, 1_000_000, "throttle")


class Ecr(Service):
    name = "ecr"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.issued_at = time.time()
        inner = {
            "payload": base64.b64encode(secrets.token_bytes(96)).decode(),
            "datakey": base64.b64encode(secrets.token_bytes(48)).decode(),
            "version": "2",
            "type": "DATA_KEY",
            "expiration": int(self.issued_at) + 43200,
        }
        self.password = base64.b64encode(json.dumps(inner).encode()).decode()
        self.signer = Signer("sha256")
        self.session_token = base64.b64encode(secrets.token_bytes(64)).decode()

    def sites(self) -> tuple[Site, ...]:
        return (Site(self.ip(1), (HOST,), self.registry), Site(self.ip(2), (S3_HOST,), self.s3))

    def credentials(self) -> Credentials:
        return Credentials(USER, self.password)

    # -- <account>.dkr.ecr.<region>.amazonaws.com ---------------------------------------------

    def registry(self, request: Request) -> Response:
        route = parse_route(request.path)
        if route is None:
            return text_response(404, "404 page not found\n")
        sent = parse_basic(request.header("Authorization"))
        if sent is None or sent[0] != USER or not secrets.compare_digest(sent[1], self.password):
            headers = [("Www-Authenticate", CHALLENGE), API_VERSION]
            return Response(
                401, [("Content-Type", "text/plain; charset=utf-8"), *headers], b"Not Authorized\n"
            )
        if time.time() >= self.issued_at + self.settings.password_lifetime:
            return oci_error(403, "DENIED", EXPIRED_MESSAGE, with_detail=False)
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        if route.kind == "base":
            return json_response(200, {}, (API_VERSION,))
        if route.kind == "catalog":
            return self.forward(request)
        if route.name not in REPOSITORIES:
            message = (
                f"The repository with name '{route.name}' does not exist in the registry with id "
                f"'{ACCOUNT}'"
            )
            return oci_error(404, "NAME_UNKNOWN", message, with_detail=False)
        if self.throttled(route):
            return oci_error(429, "TOOMANYREQUESTS", "Rate exceeded", with_detail=False)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(route.name, route.reference)
        answer = self.forward(request)
        if route.kind == "manifest" and answer.status == 404:
            return oci_error(
                404, "MANIFEST_UNKNOWN", "Requested image not found", with_detail=False
            )
        if route.kind == "manifest" and request.method == "GET" and answer.status == 200:
            self.count_pull(USER, route)
        return answer

    def _blob_redirect(self, name: str, digest: str) -> Response:
        if not self.blob_known(Route("blob", name, digest)):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", with_detail=False)
        hex_ = digest.split(":", 1)[1]
        repo_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{HOST}/{name}")
        path = f"/{hex_[:4]}-{ACCOUNT}-{repo_id}/{hex_}"
        lifetime = self.settings.cdn_url_lifetime
        query = presigned_query(
            self.signer, path, lifetime, "ASIAOCIINSPECTRIG000", REGION, self.session_token
        )
        location = f"https://{S3_HOST}{path}?{query}"
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Location", location),
            API_VERSION,
        ]
        return forward_with(Response(307, headers, b""), ("Docker-Content-Digest", digest))

    # -- prod-<region>-starport-layer-bucket.s3.<region>.amazonaws.com --------------------------

    def s3(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return xml_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
        authorization = request.header("Authorization")
        if authorization is not None:
            extra = (
                "<ArgumentName>Authorization</ArgumentName>"
                f"<ArgumentValue>{_xml_text(authorization)}</ArgumentValue>"
                f"<RequestId>{secrets.token_hex(8).upper()}</RequestId>"
                f"<HostId>{base64.b64encode(secrets.token_bytes(48)).decode()}</HostId>"
            )
            return xml_error(400, "InvalidArgument", ONE_AUTH_MESSAGE, extra)
        match = _S3_PATH.match(request.path)
        if match is None or match.group(1) != match.group(3)[:4]:
            return xml_error(404, "NoSuchKey", "The specified key does not exist.")
        refusal = presigned_refusal(request, self.signer)
        if refusal is not None:
            return refusal
        return serve_file(request, self.backend.blob_file("sha256:" + match.group(3)))


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
