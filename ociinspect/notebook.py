"""The first cell of every notebook: which images it looks at, through which session, and why.

::

    from ociinspect import notebook

    lab = notebook.start(image="docker.io/library/python:3.12-slim")
    IMAGE = lab.image

:func:`start` takes each image's default, replaced by its ``OCIINSPECT_*`` variable when set
(:attr:`ociinspect.Settings.lesson_images`), and checks that the registry answers with one
``HEAD`` of the manifest (free: Docker Hub counts only GETs as pulls), within 2 seconds, without
retries. When it does not (no network, a 429 or no pulls left, an unknown image, a refused
login), or ``OCIINSPECT_OFFLINE=1`` is set, or the lesson needs a registry and was given a
file, the lesson runs against the demo registry started in this kernel
(:mod:`ociinspect.demo`): every HTTP exchange is then real, on loopback. It prints one line per
image and one saying why. It never raises for a registry's answer: a lesson always runs.

The :class:`Lesson` it returns holds the session every call of the notebook shares (it becomes
the default session), the demo (started on first use by :meth:`Lesson.demo_registry`), and the
helpers lessons use to show HTTP exchanges and the commands that repeat them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .commands import curl_commands, print_commands, tool_commands, trace_commands
from .demo import DemoRegistry
from .distribution import ratelimit
from .distribution.retry import RetryPolicy
from .errors import OCIInspectError, RateLimitedError
from .session import LESSON_IMAGE_VARIABLES, Session, Settings, set_default_session
from .tables.frame import Table
from .values.reference import is_loopback, parse

#: What each role becomes on the demo registry.
DEMO_IMAGES = {
    "image": "sample:latest",
    "image_b": "sample:2.0",
    "multiarch": "sample:latest",
    "other": "other/hello:latest",
}
#: Seconds to wait for a registry's first answer before using the demo.
PROBE_TIMEOUT = 2.0
LOCAL_PREFIXES = ("oci:", "oci-archive:", "docker-archive:")
#: What a lesson may need: any source, a registry (an HTTP lesson), a registry with token auth.
NEEDS = (None, "registry", "token")
#: The trace columns lessons show.
HTTP_COLUMNS = ["method", "url", "status", "purpose", "bytes"]


@dataclass(frozen=True)
class Probe:
    """What one HEAD of a manifest said: ``problem`` is None when the registry answered."""

    problem: str | None
    rate: ratelimit.RateLimit | None = None
    host: str | None = None
    scheme: str | None = None  # the auth challenge's scheme: "bearer", "basic", None (open)


@dataclass
class Lesson:
    """The images a notebook looks at, the session it uses, and why they were chosen."""

    images: dict[str, str]
    session: Session
    kind: str  # "registry", "layout" or "demo"
    reason: str
    rate: ratelimit.RateLimit | None = None
    auth: str | None = None
    platform_b: str | None = None
    demo: DemoRegistry | None = field(default=None, repr=False)

    @property
    def image(self) -> str:
        return self.images["image"]

    @property
    def image_b(self) -> str:
        return self.images.get("image_b", self.image)

    @property
    def multiarch(self) -> str:
        return self.images.get("multiarch", self.image)

    @property
    def other(self) -> str:
        return self.images.get("other", self.image)

    @property
    def is_registry(self) -> bool:
        return self.kind in ("registry", "demo")

    def demo_registry(self, **options: Any) -> DemoRegistry:
        """The demo registry of this lesson, started now if the images are elsewhere (a
        lesson that pushes, or shows a 429, always uses it). ``options`` start another one
        (``rate_limit=…``, ``fail_after=…``) instead."""
        if options:
            return DemoRegistry(**options).start()
        if self.demo is None:
            self.demo = DemoRegistry().start()
        return self.demo

    def demo_session(self, demo: DemoRegistry | None = None) -> Session:
        """A session for a demo registry, logged in as its user (who may push to scratch/)."""
        demo = demo or self.demo_registry()
        settings = self.session.settings.replace(
            offline=False, credentials={demo.host: demo.credentials}
        )
        return Session(settings)

    # -- showing what happened ----------------------------------------------------------------

    def mark(self) -> int:
        """A position in this lesson's HTTP trace (see :meth:`http` and :meth:`curl`)."""
        return self.session.trace.mark()

    def http(self, mark: int = 0, session: Session | None = None) -> Table:
        """The exchanges since ``mark``: method, URL, status, purpose, bytes (secrets redacted)."""
        trace = (session or self.session).trace
        return trace_commands(trace.since(mark), session or self.session)[HTTP_COLUMNS]

    def curl(self, mark: int = 0, session: Session | None = None) -> None:
        """Print the curl lines that repeat the exchanges since ``mark``; a lesson on files
        says so instead."""
        session = session or self.session
        lines = curl_commands(session.trace.since(mark), session)
        if lines:
            print_commands(lines)
        elif self.kind == "layout":
            print(
                "(no HTTP request: the image is a directory of files; `cat` and `sha256sum`"
                " its blobs/sha256/<hex> files instead)"
            )
        else:
            print("(no HTTP request: ociinspect already had these bytes)")

    def spent(self, mark: int = 0) -> None:
        """Print what the exchanges since ``mark`` cost: requests, pulls, token requests."""
        print(self.session.trace.summary(mark).describe())

    def tools(self, ref: str | None = None, **options: Any) -> None:
        """Print crane, skopeo, regctl and oras lines for ``ref`` (default: the image)."""
        ref = ref or self.image
        if ref.startswith(LOCAL_PREFIXES):
            print(f"skopeo inspect --raw {ref}")
            return
        wanted = parse(ref.removeprefix("docker://"))
        login = self.session.client.credentials_for(wanted.registry, wanted.repository)
        print_commands(tool_commands(ref, login=login is not None, **options))


def show_json(raw: bytes, lines: int = 40) -> None:
    """Pretty-print a JSON document, cut after ``lines`` lines (the bytes are not changed:
    a digest is over the bytes as sent, never over this rendering)."""
    text = json.dumps(json.loads(raw), indent=2).splitlines()
    more = f"\n… {len(text) - lines} more lines" if len(text) > lines else ""
    print("\n".join(text[:lines]) + more)


def check(answer: Any, expected: Any, what: str) -> None:
    """An exercise's check: prints whether ``answer`` is ``expected``."""
    if answer is None:
        print(f"… {what}: not answered yet")
    elif answer == expected:
        print(f"✓ {what}: {answer}")
    else:
        print(f"✗ {what}: {answer!r} is not it; try again (or open the solution below)")


# --------------------------------------------------------------------------- choosing


def probe(session: Session, ref: str, timeout: float = PROBE_TIMEOUT) -> Probe:
    """One HEAD of ``ref``'s manifest through ``session``'s settings, without retries: did
    the registry answer, with what rate limit and which auth scheme."""
    wanted = parse(ref.removeprefix("docker://"))
    settings = session.settings.replace(cache=False, offline=False, timeout=(timeout, timeout * 2))
    with Session(settings) as asking:
        asking.client.retry = RetryPolicy(attempts=1)
        try:
            asking.client.head_manifest(wanted.registry, wanted.repository, wanted.identifier)
            problem = None
        except RateLimitedError as exc:
            problem = f"{_first_line(exc)} (a 429: no pulls left for this address)"
        except OCIInspectError as exc:
            problem = _first_line(exc)
        answers = [e for e in asking.trace if e.status is not None and e.purpose == "manifest"]
        rate = None
        if answers:
            rate = ratelimit.parse(answers[-1].response_headers, datetime.now(UTC))
        host = answers[-1].url.split("/")[2] if answers else None
        base = asking.client.base_url(wanted.registry)
        found = asking.client.challenges.get(base)
        scheme = found[0].scheme if found else None
    if problem is None and rate is not None and rate.exhausted:
        problem = f"{host} has no pulls left ({rate.describe()})"
    return Probe(problem, rate, host, scheme)


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "…"


def start(
    image: str,
    *,
    image_b: str | None = None,
    multiarch: str | None = None,
    other: str | None = None,
    needs: str | None = None,
    cache: bool | None = None,
    settings: Settings | None = None,
    echo: bool = True,
) -> Lesson:
    """Choose the lesson's images (see the module docstring) and print the choice.

    ``needs="registry"`` sends a lesson given a file (``oci:…``) to the demo registry;
    ``needs="token"`` also one whose registry does not use token auth (an open or Basic
    registry). ``cache=False`` turns the disk cache off, so every step really asks the
    registry. The lesson's session becomes the default session of the kernel.
    """
    if needs not in NEEDS:
        raise ValueError(f"needs must be one of {NEEDS}, got {needs!r}")
    settings = settings or Settings.from_env()
    if cache is not None:
        settings = settings.replace(cache=cache)
    given = dict(settings.lesson_images)
    defaults = {"image": image, "image_b": image_b, "multiarch": multiarch, "other": other}
    wanted = {role: given.get(role, ref) for role, ref in defaults.items() if ref is not None}
    lesson = _choose(wanted, given, settings, needs)
    set_default_session(lesson.session)
    if echo:
        _echo(lesson, given)
    return lesson


def _choose(
    wanted: dict[str, str], given: Mapping[str, str], settings: Settings, needs: str | None
) -> Lesson:
    main = wanted["image"]
    if settings.offline:
        return _demo(wanted, settings, "OCIINSPECT_OFFLINE=1: no registry outside this machine")
    if main.startswith(LOCAL_PREFIXES):
        if needs is not None:
            return _demo(
                wanted,
                settings,
                f"{main.split(':', 1)[0]}: is a file, and this "
                "lesson is about a registry's HTTP exchanges",
            )
        return _layout(wanted, given, settings)
    session = Session(settings)
    checked: dict[str, Probe] = {}
    for role, ref in wanted.items():
        if ref.startswith(LOCAL_PREFIXES):
            continue
        key = parse(ref.removeprefix("docker://")).registry if role != "image" else ref
        if key not in checked:
            checked[key] = probe(session, ref)
        found = checked[key]
        if found.problem is not None:
            return _demo(wanted, settings, f"{ref}: {found.problem}")
    first = checked[main]
    if needs == "token" and first.scheme != "bearer":
        kind = {"basic": "Basic auth", None: "no auth"}.get(first.scheme, first.scheme)
        return _demo(
            wanted,
            settings,
            f"{first.host} uses {kind}, and this lesson is about the token handshake",
        )
    reason = f"{first.host} answered"
    if first.rate is not None:
        reason += f" ({first.rate.describe()})"
    return Lesson(wanted, session, "registry", reason, first.rate, first.scheme)


def _demo(wanted: Mapping[str, str], settings: Settings, why: str) -> Lesson:
    demo = DemoRegistry().start()
    images = {role: demo.ref(DEMO_IMAGES[role]) for role in wanted}
    session = Session(settings.replace(offline=False))
    reason = f"the demo registry in this kernel, because {why}"
    return Lesson(images, session, "demo", reason, auth="bearer", demo=demo)


def _layout(wanted: dict[str, str], given: Mapping[str, str], settings: Settings) -> Lesson:
    """A file for the main image: other roles not set by a variable become that file too,
    and a second image (``image_b``) compares another platform of it."""
    images = {
        role: (ref if role in given or role == "image" else wanted["image"])
        for role, ref in wanted.items()
    }
    session = Session(settings)
    platform_b = None
    if images.get("image_b") == images["image"]:
        from .navigation import ImageIndex
        from .navigation import open as open_ref

        found = open_ref(images["image"], session=session)
        if isinstance(found, ImageIndex):
            platforms = [e.platform_string for e in found.entries if e.kind == "image"]
            platform_b = platforms[1] if len(platforms) > 1 else None
    reason = "an image stored as files: no registry, no HTTP request"
    return Lesson(images, session, "layout", reason, platform_b=platform_b)


def _echo(lesson: Lesson, given: Mapping[str, str]) -> None:
    width = max(len(role) for role in lesson.images)
    for role, ref in lesson.images.items():
        variable = LESSON_IMAGE_VARIABLES[role]
        note = f"  (from {variable})" if role in given and lesson.kind != "demo" else ""
        shown = "ociinspect.SAMPLE" if _is_sample(ref) else ref
        extra = f" @ {lesson.platform_b}" if role == "image_b" and lesson.platform_b else ""
        print(f"{role.upper():<{width}} = {shown}{extra}{note}")
    print(f"source: {lesson.reason}")


def _is_sample(ref: str) -> bool:
    from ._sample import SAMPLE

    return ref == SAMPLE


def loopback(ref: str) -> bool:
    """Whether ``ref`` names a registry on this machine (the demo's, a test rig's)."""
    return not ref.startswith(LOCAL_PREFIXES) and is_loopback(
        parse(ref.removeprefix("docker://")).registry
    )


__all__ = [
    "DEMO_IMAGES",
    "NEEDS",
    "PROBE_TIMEOUT",
    "Lesson",
    "Probe",
    "check",
    "loopback",
    "probe",
    "show_json",
    "start",
]
