"""Progress reporting: tqdm when enabled, a silent counter otherwise, and the callback adapter."""

from __future__ import annotations

import io
import sys

import pytest

from ociinspect.progress import (
    NullProgress,
    Progress,
    ProgressCallback,
    TqdmProgress,
    make_progress,
    safe_label,
)

DIGEST = "sha256:" + "ab" * 32
SHORT = "sha256:abababababab"


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [(None, True), (True, True), (False, False)],
    ids=["progress is on by default", "enabled=True shows it", "enabled=False silences it"],
)
def test_whether_progress_is_shown(enabled: bool | None, expected: bool) -> None:
    """The argument decides (a session passes its own progress setting); none means on."""
    kind = TqdmProgress if expected else NullProgress
    assert type(make_progress(enabled, file=io.StringIO())) is kind


def test_disabled_progress_counts_silently(capsys: pytest.CaptureFixture[str]) -> None:
    """A disabled progress prints nothing but still counts."""
    with make_progress(False, label=DIGEST) as progress:
        assert isinstance(progress, Progress)
        progress.start(100)
        progress.update(30)
        progress.update(12)
    assert isinstance(progress, NullProgress) and progress.n == 42
    assert capsys.readouterr() == ("", "")


def test_without_tqdm_progress_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    """When tqdm cannot be imported, enabled progress falls back to the no-op."""
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert isinstance(make_progress(True), NullProgress)


def test_enabled_progress_drives_a_tqdm_bar() -> None:
    """start/update/close reach a tqdm.auto bar counting bytes."""
    out = io.StringIO()
    progress = make_progress(True, label="library/ubuntu", file=out)
    assert isinstance(progress, TqdmProgress) and progress.bar is None
    progress.start(1000)
    progress.update(400)
    progress.update(100)
    assert (progress.bar.n, progress.bar.total, progress.bar.desc) == (500, 1000, "library/ubuntu")
    assert progress.bar.unit == "B"
    progress.close()
    assert progress.bar.disable  # tqdm marks a closed bar disabled
    assert "library/ubuntu" in out.getvalue()


def test_the_callback_adapter_counts_bytes() -> None:
    """Cumulative (done, total) calls become one start and increments that sum to done."""
    progress = NullProgress()
    callback = ProgressCallback(progress, DIGEST)
    for done in (0, 65536, 131072, 150000):
        callback(done, 150000)
    assert (progress.n, progress.total, callback.done) == (150000, 150000, 150000)
    assert progress.label == SHORT


def test_the_callback_adapter_moves_a_tqdm_bar_and_follows_a_restart() -> None:
    """The adapter drives a tqdm bar; a done that goes back moves the bar back."""
    progress = make_progress(True, label=DIGEST, file=io.StringIO())
    callback = ProgressCallback(progress)
    callback(300, None)
    callback(700, None)
    assert isinstance(progress, TqdmProgress)
    assert (progress.bar.n, progress.bar.total) == (700, None)
    callback(100, None)
    assert progress.bar.n == 100
    callback.close()
    assert progress.bar.disable


LABELS = [
    (DIGEST, SHORT),
    ("library/ubuntu@" + DIGEST, "library/ubuntu@" + SHORT),
    ("x" * 70, "x" * 59 + "…"),
    ("https://alice:s3cret@registry.example/v2/x/blobs/y", "https://registry.example/v2/x/blobs/y"),
    ("GET http://host:5000/v2/x?token=s3cret#frag done", "GET http://host:5000/v2/x done"),
]


@pytest.mark.parametrize(
    ("label", "expected"),
    LABELS,
    ids=[
        "a digest is shown short",
        "a repository and digest are shown with the digest short",
        "a long label is cut to 60 characters",
        "URL credentials are dropped",
        "URL query strings and fragments are dropped",
    ],
)
def test_labels_are_made_safe(label: str, expected: str) -> None:
    """safe_label keeps names and digests and drops what could be a secret."""
    assert safe_label(label) == expected
    assert len(safe_label(label)) <= 60


def test_a_secret_in_a_label_never_reaches_the_bar() -> None:
    """Even a careless label does not print credentials."""
    out = io.StringIO()
    with make_progress(True, file=out) as progress:
        progress.start(10, "https://alice:s3cret@host/v2/x?access_token=t0ken")
        progress.update(10)
    assert "host/v2/x" in out.getvalue()
    assert "s3cret" not in out.getvalue() and "t0ken" not in out.getvalue()
    assert "s3cret" not in repr(progress)
