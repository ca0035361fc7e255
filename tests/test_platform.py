"""Platform: parsing what users type, normalising, formatting, and matching index entries."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociinspect.errors import InvalidDocumentError
from ociinspect.values import platforms as platform_module
from ociinspect.values.platforms import KNOWN_ARCHITECTURES, Platform, host_platform

P = Platform.parse

PARSE_CASES = [
    # text, os, architecture, variant, os_version, str(), id
    ("linux/amd64", "linux", "amd64", None, None, "linux/amd64", "linux/amd64 is read as is"),
    ("linux/x86_64", "linux", "amd64", None, None, "linux/amd64", "x86_64 means amd64"),
    ("linux/x86-64", "linux", "amd64", None, None, "linux/amd64", "x86-64 means amd64"),
    ("linux/amd64/v1", "linux", "amd64", None, None, "linux/amd64", "amd64 v1 is the baseline"),
    ("linux/amd64/v3", "linux", "amd64", "v3", None, "linux/amd64/v3", "amd64 v3 is kept"),
    ("linux/arm64", "linux", "arm64", "v8", None, "linux/arm64/v8", "arm64 defaults to v8"),
    ("linux/arm64/v8", "linux", "arm64", "v8", None, "linux/arm64/v8", "arm64/v8 is kept"),
    ("linux/aarch64", "linux", "arm64", "v8", None, "linux/arm64/v8", "aarch64 means arm64/v8"),
    ("linux/arm64/8", "linux", "arm64", "v8", None, "linux/arm64/v8", "arm64 variant 8 is v8"),
    ("linux/arm64/v8.0", "linux", "arm64", "v8", None, "linux/arm64/v8", "arm64 v8.0 is v8"),
    ("linux/arm64/v9.0", "linux", "arm64", "v9", None, "linux/arm64/v9", "arm64 v9.0 is v9"),
    ("linux/arm", "linux", "arm", "v7", None, "linux/arm/v7", "arm defaults to v7"),
    ("linux/arm/v6", "linux", "arm", "v6", None, "linux/arm/v6", "arm/v6 is kept"),
    ("linux/arm/5", "linux", "arm", "v5", None, "linux/arm/v5", "arm variant 5 is v5"),
    ("linux/armhf", "linux", "arm", "v7", None, "linux/arm/v7", "armhf means arm/v7"),
    ("linux/armel", "linux", "arm", "v6", None, "linux/arm/v6", "armel means arm/v6"),
    ("linux/i386", "linux", "386", None, None, "linux/386", "i386 means 386"),
    ("linux/386", "linux", "386", None, None, "linux/386", "386 is read as is"),
    ("Linux/AMD64", "linux", "amd64", None, None, "linux/amd64", "case is folded"),
    ("macos/arm64", "darwin", "arm64", "v8", None, "darwin/arm64/v8", "macos means darwin"),
    ("linux/ppc64le", "linux", "ppc64le", None, None, "linux/ppc64le", "ppc64le is read as is"),
    ("linux/riscv64", "linux", "riscv64", None, None, "linux/riscv64", "riscv64 is read as is"),
    ("arm64", "linux", "arm64", "v8", None, "linux/arm64/v8", "a lone architecture means linux"),
    ("armhf", "linux", "arm", "v7", None, "linux/arm/v7", "a lone alias is normalised too"),
    ("unknown/unknown", "unknown", "unknown", None, None, "unknown/unknown",
     "unknown/unknown (attestations) is a platform"),
    ("windows/amd64:10.0.17763.1234", "windows", "amd64", None, "10.0.17763.1234",
     "windows(10.0.17763.1234)/amd64", "an os version after ':' is read"),
    ("windows(10.0.17763.1234)/amd64", "windows", "amd64", None, "10.0.17763.1234",
     "windows(10.0.17763.1234)/amd64", "containerd's os(version) form is read"),
    ("windows(10.0.20348%2Bx)/amd64", "windows", "amd64", None, "10.0.20348+x",
     "windows(10.0.20348%2Bx)/amd64", "a percent-encoded os version is decoded"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "os", "architecture", "variant", "os_version", "formatted"),
    [c[:6] for c in PARSE_CASES],
    ids=[c[6] for c in PARSE_CASES],
)
def test_parse_normalises(
    text: str,
    os: str,
    architecture: str,
    variant: str | None,
    os_version: str | None,
    formatted: str,
) -> None:
    """Platform.parse normalises what users type and str() prints the canonical form."""
    parsed = P(text)
    assert (parsed.os, parsed.architecture, parsed.variant, parsed.os_version) == (
        os,
        architecture,
        variant,
        os_version,
    )
    assert str(parsed) == formatted
    assert P(str(parsed)) == parsed


def test_parse_os_features() -> None:
    """os(version+feature) reads os.features, sorted, and prints them back."""
    parsed = P("windows(10.0.17763+win32k+a)/amd64")
    assert (parsed.os_version, parsed.os_features) == ("10.0.17763", ("a", "win32k"))
    assert str(parsed) == "windows(10.0.17763+a+win32k)/amd64"


def test_lone_os_takes_this_machines_architecture() -> None:
    """A lone OS name ('linux') is completed with this machine's architecture."""
    host = host_platform()
    assert P("linux") == Platform("linux", host.architecture, host.variant)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "/",
        "linux/",
        "/amd64",
        "linux//v8",
        "linux/amd64/v8/extra",
        "linux/*",
        "foo",
        "linux amd64",
        "linux/amd64:",
        "windows(1)/amd64:2",
        "linux/amd64@v8",
        "(1)/amd64",
        "amd64(1)",
    ],
    ids=[
        "empty text",
        "a lone slash",
        "a missing architecture",
        "a missing os",
        "an empty architecture",
        "four components",
        "a wildcard",
        "an unknown lone word",
        "a space",
        "an empty os version after ':'",
        "an os version given twice",
        "a character outside [A-Za-z0-9_.-]",
        "an os version without an os",
        "an os version on a lone architecture",
    ],
)
def test_parse_rejects(text: str) -> None:
    """Unparsable platform text raises InvalidDocumentError('platform', ...), a ValueError."""
    with pytest.raises(InvalidDocumentError) as info:
        P(text)
    assert info.value.what == "platform"
    assert repr(text) in info.value.reason
    assert isinstance(info.value, ValueError)


EQUALITY_CASES = [
    ("linux/arm64", "linux/arm64/v8", True),
    ("linux/aarch64", "linux/arm64", True),
    ("linux/armhf", "linux/arm/v7", True),
    ("linux/arm", "linux/arm/v7", True),
    ("linux/i386", "linux/386", True),
    ("linux/x86_64", "linux/amd64/v1", True),
    ("linux/arm/v6", "linux/arm", False),
    ("linux/amd64", "linux/amd64/v2", False),
    ("linux/amd64", "windows/amd64", False),
]


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    EQUALITY_CASES,
    ids=[f"{a} {'equals' if e else 'differs from'} {b}" for a, b, e in EQUALITY_CASES],
)
def test_equality_after_normalisation(left: str, right: str, equal: bool) -> None:
    """Platforms that mean the same thing compare (and hash) equal."""
    assert (P(left) == P(right)) is equal
    if equal:
        assert hash(P(left)) == hash(P(right))


FROM_DICT_CASES = [
    ({"architecture": "arm64", "os": "linux"}, "linux/arm64/v8", "arm64 without variant is v8"),
    ({"architecture": "arm", "os": "linux", "variant": "v6"}, "linux/arm/v6", "variant is read"),
    ({"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1234"},
     "windows(10.0.17763.1234)/amd64", "os.version is kept"),
    ({"architecture": "amd64", "os": "windows", "os.features": ["win32k"]},
     "windows(+win32k)/amd64", "os.features are kept"),
    ({"architecture": "unknown", "os": "unknown"}, "unknown/unknown", "an attestation entry"),
    ({"architecture": "amd64", "os": "linux", "variant": "", "features": ["sse4"]},
     "linux/amd64", "an empty variant is none and features are kept"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "formatted"), [c[:2] for c in FROM_DICT_CASES], ids=[c[2] for c in FROM_DICT_CASES]
)
def test_from_dict(value: dict[str, Any], formatted: str) -> None:
    """from_dict reads an image-spec platform object; to_dict writes it back."""
    parsed = Platform.from_dict(value)
    assert str(parsed) == formatted
    assert Platform.from_dict(parsed.to_dict()) == parsed
    assert parsed.to_dict()["os"] == value["os"]


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"os": "linux"},
        {"os": "linux", "architecture": 5},
        {"os": "", "architecture": "amd64"},
        {"os": "linux", "architecture": "amd64", "variant": 3},
        {"os": "linux", "architecture": "amd64", "os.version": ["10"]},
        {"os": "linux", "architecture": "amd64", "os.features": "win32k"},
        {"os": "linux", "architecture": "amd64", "features": [1]},
        {"os": "linux/x", "architecture": "amd64"},
        ["linux", "amd64"],
    ],
    ids=[
        "an empty object",
        "a missing architecture",
        "a numeric architecture",
        "an empty os",
        "a numeric variant",
        "a list os.version",
        "a string os.features",
        "a numeric feature",
        "a slash in os",
        "a list instead of an object",
    ],
)
def test_from_dict_rejects(value: Any) -> None:
    """A platform object of the wrong shape raises InvalidDocumentError('platform', ...)."""
    with pytest.raises(InvalidDocumentError) as info:
        Platform.from_dict(value)
    assert info.value.what == "platform"


WIN = {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1234"}

MATCH_CASES = [
    ("linux/arm64", {"os": "linux", "architecture": "arm64", "variant": "v8"}, True,
     "arm64 matches an entry saying v8"),
    ("linux/arm64", {"os": "linux", "architecture": "arm64"}, True,
     "arm64 matches an entry without variant"),
    ("linux/arm64/v8", {"os": "linux", "architecture": "aarch64"}, True,
     "arm64/v8 matches an aarch64 entry"),
    ("linux/arm", {"os": "linux", "architecture": "arm", "variant": "v6"}, False,
     "arm (v7) does not match arm/v6"),
    ("linux/arm/v6", {"os": "linux", "architecture": "armel"}, True, "arm/v6 matches armel"),
    ("linux/amd64", {"os": "linux", "architecture": "amd64", "variant": "v2"}, False,
     "amd64 without variant matches only the baseline"),
    ("linux/amd64", {"os": "windows", "architecture": "amd64"}, False, "the os must agree"),
    ("windows/amd64", WIN, True, "os.version is ignored unless asked for"),
    ("windows(10.0.17763)/amd64", WIN, True, "a build number matches its revisions"),
    ("windows(10.0.17763.1234)/amd64", WIN, True, "a full os.version matches itself"),
    ("windows(10.0.20348)/amd64", WIN, False, "another build does not match"),
    ("windows(10.0.1776)/amd64", WIN, False, "os.version compares whole dotted parts"),
    ("windows(10.0.17763)/amd64", {"os": "windows", "architecture": "amd64"}, False,
     "an asked-for os.version needs one on the entry"),
    ("windows(+win32k)/amd64", {**WIN, "os.features": ["win32k"]}, True,
     "asked-for os.features present"),
    ("windows(+win32k)/amd64", WIN, False, "asked-for os.features missing"),
    ("unknown/unknown", {"os": "unknown", "architecture": "unknown"}, True,
     "unknown/unknown matches an attestation entry"),
    ("linux/amd64", {"os": "unknown", "architecture": "unknown"}, False,
     "a real platform never matches an attestation entry"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "entry", "matches"), [c[:3] for c in MATCH_CASES], ids=[c[3] for c in MATCH_CASES]
)
def test_matches(wanted: str, entry: dict[str, Any], matches: bool) -> None:
    """wanted.matches(entry): normalised os/arch/variant equal; os.version only when asked."""
    assert P(wanted).matches(Platform.from_dict(entry)) is matches


def test_matches_accepts_text() -> None:
    """matches() parses a string argument."""
    assert P("linux/arm64").matches("linux/aarch64")
    assert not P("linux/arm64").matches("linux/arm/v7")


@pytest.mark.parametrize(
    ("machine", "formatted"),
    [
        ("x86_64", "linux/amd64"),
        ("AMD64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8"),
        ("arm64", "linux/arm64/v8"),
        ("armv7l", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6"),
        ("i686", "linux/386"),
        ("s390x", "linux/s390x"),
        ("", "linux/unknown"),
        ("weird machine", "linux/unknown"),
    ],
)
def test_host_platform_maps_the_machine(
    monkeypatch: pytest.MonkeyPatch, machine: str, formatted: str
) -> None:
    """host_platform() is linux/<this CPU>, with uname -m names normalised."""
    monkeypatch.setattr(platform_module._stdlib_platform, "machine", lambda: machine)
    assert str(host_platform()) == formatted


def test_host_platform_on_this_machine() -> None:
    """On the test machine host_platform() is a linux platform of a known architecture."""
    host = host_platform()
    assert host.os == "linux"
    assert host.architecture in KNOWN_ARCHITECTURES | {"unknown"}
    assert P(str(host)) == host


def test_platform_is_frozen_and_normalised_on_construction() -> None:
    """Platform(...) normalises its fields once and cannot be changed afterwards."""
    built = Platform("Linux", "aarch64", os_features=["b", "a", "a"])  # type: ignore[arg-type]
    assert (built.os, built.architecture, built.variant, built.os_features) == (
        "linux",
        "arm64",
        "v8",
        ("a", "b"),
    )
    with pytest.raises(FrozenInstanceError):
        built.os = "windows"  # type: ignore[misc]


@settings(max_examples=500)
@given(
    text=st.one_of(
        st.text(),
        st.text(alphabet="linuxwdosarm64v8/()+.:%_-", max_size=30),
        st.builds(
            "/".join,
            st.lists(
                st.sampled_from(["linux", "arm64", "v8", "windows(10.0)", "", "x86_64"]), max_size=4
            ),
        ),
    )
)
def test_any_text_parses_or_raises_invalid_document(text: str) -> None:
    """Any text yields a Platform that round-trips through str(), or InvalidDocumentError."""
    try:
        parsed = P(text)
    except InvalidDocumentError as exc:
        assert exc.what == "platform"
        return
    assert P(str(parsed)) == parsed
