"""Output is safe to print: no terminal receives a raw control character from an image.

File names, labels and env values are chosen by whoever built an image, error messages partly
by whoever runs the registry. Printed raw, ``ESC [ 2 J`` clears the screen, ``ESC ] 8 ;;``
plants a hyperlink, ``CR`` overwrites a line and U+202E reverses text. Every CLI format meant
for people, every error line and ``str()`` of every ociinspect error escape them (``\\x1b``,
``\\u202e``); JSON escapes them by its own rules; CSV is exact for programs and escaped when
written to a terminal.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from kit import make_session
from servers import FakeRegistry, Reply, Request, json_reply

from ociinspect import cli
from ociinspect.errors import NotFoundError
from ociinspect.session import set_default_session
from ociinspect.testing import build

NAME = "etc/\x1b[2Jcleared\x07\u202egpj.exe"
LINK = "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07"
RAW = ("\x1b", "\x07", "\u202e", "\r", "\x9b")


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def hostile_image(tmp_path: Path) -> str:
    """An OCI layout whose file name, label and env value carry terminal controls."""
    layer = build.layer([build.directory("etc"), build.file(NAME, b"x")])
    image = build.image([layer], labels={"org.example.note": LINK},
                        env=["GREETING=hello\rGOODBYE\x1b[8m"])
    return f"oci:{build.write_layout(tmp_path / 'layout', image)}:latest"


@pytest.fixture(autouse=True)
def quiet_session() -> object:
    previous = set_default_session(make_session())
    yield
    set_default_session(previous)


def _run(argv: list[str], out: io.StringIO, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli.main(argv, out=out)
    return status, out.getvalue() + capsys.readouterr().err


CASES = [
    pytest.param(["files", "--layer", "0"], "cleared", id="file names in a table"),
    pytest.param(["files", "--layer", "0", "-f", "markdown"], "cleared",
                 id="file names in markdown"),
    pytest.param(["labels"], "click", id="label values"),
    pytest.param(["env"], "GOODBYE", id="env values"),
    pytest.param(["files", "--layer", "0", "-f", "csv"], "cleared", id="csv to a terminal"),
]


@pytest.mark.parametrize(("command", "visible"), CASES)
def test_the_cli_escapes_what_an_image_chose(
    hostile_image: str, command: list[str], visible: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The text still shows, every control as a visible escape; none reaches the terminal."""
    status, text = _run([command[0], hostile_image, *command[1:]], Terminal(), capsys)
    assert status == 0, text
    assert visible in text and "\\x1b" in text
    assert not [c for c in RAW if c in text]


def test_json_and_csv_for_programs_keep_exact_values(
    hostile_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON escapes controls by its own rules and reads back exactly; CSV into a pipe keeps
    the exact name (a program, not a terminal, reads it)."""
    status, text = _run(["files", hostile_image, "--layer", "0", "-f", "json"], io.StringIO(),
                        capsys)
    assert status == 0 and "\x1b" not in text
    assert NAME in [row["path"] for row in json.loads(text)["rows"]]
    status, text = _run(["files", hostile_image, "--layer", "0", "-f", "csv"], io.StringIO(),
                        capsys)
    assert status == 0 and NAME in text


def test_error_lines_escape_what_a_registry_or_a_user_typed(
    fake: FakeRegistry, hostile_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A registry's error message and a layer argument holding controls are escaped in the
    CLI's one error line and in str() of the library's error."""

    def tweak(request: Request, reply: Reply) -> Reply:
        body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": f"gone {LINK}\r\x1b[2K"}]}
        return json_reply(404, body) if "/manifests/" in request.route else reply

    fake.tweak = tweak  # type: ignore[assignment]
    status, text = _run(["layers", fake.ref()], Terminal(), capsys)
    assert status == 1 and "MANIFEST_UNKNOWN" in text and "\\x1b" in text
    assert not [c for c in RAW if c in text]
    with pytest.raises(NotFoundError) as err:
        make_session().client.get_manifest(fake.host, fake.repository, "latest")
    assert "\\x1b]8;;" in str(err.value) and not [c for c in RAW if c in str(err.value)]
    status, text = _run(["files", hostile_image, "--layer", "\x1b[2Jsha"], Terminal(), capsys)
    assert status == 2 and "\\x1b[2Jsha" in text and not [c for c in RAW if c in text]
