"""ociinspect.terminal: what an image names is printed as visible text, never as a control.

Each category the module escapes has a row (C0 and its named escapes, DEL, C1, ESC sequences,
bidi overrides and isolates, zero-width and other format characters, separators, odd spaces,
lone surrogates, the backslash); ordinary text of many scripts has rows that must come back
unchanged; properties check that the output never holds an escaped character and reads back
to the input exactly.
"""

from __future__ import annotations

import os
import sysconfig
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociinspect.terminal import ESCAPED_CATEGORIES, needs_escaping, safe

ESCAPED = [
    ("tab in a table cell", "a\tb", "a\\tb"),
    ("newline", "a\nb", "a\\nb"),
    ("carriage return that would overwrite the line", "ok\rEVIL", "ok\\rEVIL"),
    ("NUL", "a\x00b", "a\\x00b"),
    ("bell", "\x07", "\\x07"),
    ("backspace", "abc\x08\x08\x08xyz", "abc\\x08\\x08\\x08xyz"),
    ("ESC of a colour sequence", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("ESC of a screen clear", "\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
    ("OSC 8 hyperlink", "\x1b]8;;http://evil/\x07click\x1b]8;;\x07",
     "\\x1b]8;;http://evil/\\x07click\\x1b]8;;\\x07"),
    ("OSC 52 clipboard write", "\x1b]52;c;ZXZpbA==\x1b\\", "\\x1b]52;c;ZXZpbA==\\x1b\\\\"),
    ("DEL", "a\x7fb", "a\\x7fb"),
    ("C1 CSI (ESC [ on 8-bit terminals)", "\x9b31m", "\\x9b31m"),
    ("C1 next line", "a\x85b", "a\\x85b"),
    ("C1 OSC and ST", "\x9d0;title\x9c", "\\x9d0;title\\x9c"),
    ("right-to-left override (Trojan Source)", "gpj\u202eexe.sh", "gpj\\u202eexe.sh"),
    ("left-to-right embedding", "\u202aab", "\\u202aab"),
    ("pop directional formatting", "a\u202cb", "a\\u202cb"),
    ("right-to-left isolate", "a\u2067b\u2069", "a\\u2067b\\u2069"),
    ("first strong isolate", "\u2068x", "\\u2068x"),
    ("left-to-right mark", "a\u200eb", "a\\u200eb"),
    ("arabic letter mark", "a\u061cb", "a\\u061cb"),
    ("zero-width space", "bin\u200b/sh", "bin\\u200b/sh"),
    ("zero-width non-joiner", "a\u200cb", "a\\u200cb"),
    ("zero-width joiner", "a\u200db", "a\\u200db"),
    ("word joiner", "a\u2060b", "a\\u2060b"),
    ("byte order mark", "\ufeffREADME", "\\ufeffREADME"),
    ("soft hyphen", "pass\u00adwd", "pass\\xadwd"),
    ("tag characters (ASCII smuggling)", "ok\U000e0041\U000e0042", "ok\\U000e0041\\U000e0042"),
    ("line separator", "a\u2028b", "a\\u2028b"),
    ("paragraph separator", "a\u2029b", "a\\u2029b"),
    ("no-break space", "a\u00a0b", "a\\xa0b"),
    ("ideographic space", "a\u3000b", "a\\u3000b"),
    ("en quad", "a\u2000b", "a\\u2000b"),
    ("narrow no-break space", "a\u202fb", "a\\u202fb"),
    ("lone surrogate from os.fsdecode of a non-UTF-8 name", os.fsdecode(b"caf\xe9"),
     "caf\\udce9"),
    ("the backslash itself", "C:\\Windows", "C:\\\\Windows"),
    ("a backslash before text that looks like an escape", "\\x1b", "\\\\x1b"),
]

ORDINARY = [
    ("ASCII path", "usr/lib/python3.11/site-packages/requests/models.py"),
    ("ASCII with spaces and punctuation", "Program Files (x86)/a b#c!$&'()*+,;=@[]^`{|}~"),
    ("Latin accents", "usr/share/doc/caf\u00e9/na\u00efve-r\u00e9sum\u00e9-\u00f1-\u00f8-\u00df"),
    ("decomposed accent (combining mark)", "cafe\u0301"),
    ("Greek and Cyrillic", "\u03b1\u03b2\u03b3/\u0436\u0443\u0440\u043d\u0430\u043b"),
    ("Chinese", "usr/share/fonts/\u4e2d\u6587\u5b57\u4f53.ttf"),
    ("Japanese", "\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt"),
    ("Korean", "\ud55c\uad6d\uc5b4"),
    ("Arabic letters (right-to-left script, no control)", "\u0645\u0644\u0641"),
    ("Hebrew letters", "\u05e7\u05d5\u05d1\u05e5"),
    ("Devanagari with vowel signs", "\u0939\u093f\u0928\u094d\u0926\u0940"),
    ("emoji", "\U0001f600 \U0001f4e6 \U0001f433"),
    ("emoji with variation selector 16", "\u2764\ufe0f"),
    ("emoji with a skin tone modifier", "\U0001f44d\U0001f3fd"),
    ("flag (regional indicators)", "\U0001f1eb\U0001f1f7"),
    ("keycap sequence", "1\ufe0f\u20e3"),
    ("private use (Nerd Font icon)", "\ue62b main.py"),
    ("emoji newer than this Python's Unicode tables (unassigned here)", "\U0001face"),
    ("empty string", ""),
]


@pytest.mark.parametrize(("text", "shown"), [c[1:] for c in ESCAPED], ids=[c[0] for c in ESCAPED])
def test_each_category_is_escaped_visibly(text: str, shown: str) -> None:
    """A control, format or invisible character is printed as its Python-literal escape."""
    assert safe(text) == shown
    assert needs_escaping(text)


@pytest.mark.parametrize("text", [c[1] for c in ORDINARY], ids=[c[0] for c in ORDINARY])
def test_ordinary_text_is_not_escaped(text: str) -> None:
    """Accents, CJK, right-to-left letters, emoji and icons come back as the same object."""
    assert safe(text) is text
    assert not needs_escaping(text)


def test_newlines_can_be_kept_for_multi_line_messages() -> None:
    """newlines=True keeps LF as a line break; CR and tab are still escaped."""
    assert safe("one\ntwo\r\n\tthree", newlines=True) == "one\ntwo\\r\n\\tthree"
    assert not needs_escaping("one\ntwo", newlines=True)
    assert needs_escaping("one\ntwo")


def test_every_c0_c1_and_del_character_is_escaped() -> None:
    """All 65 control characters (U+0000-U+001F, U+007F-U+009F) are escaped, none survives."""
    controls = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]]
    for char in controls:
        assert char not in safe(char), hex(ord(char))
    assert len(controls) == 65


def test_a_table_cell_of_an_image_file_name_prints_on_one_line() -> None:
    """An ESC-laden multi-line file name becomes one line of printable ASCII."""
    name = "etc/\x1b[2J\x1b[1;1H\nroot::0:0::/:/bin/sh\r\u202e"
    shown = safe(name)
    assert shown.isprintable() and shown.isascii()
    assert shown == "etc/\\x1b[2J\\x1b[1;1H\\nroot::0:0::/:/bin/sh\\r\\u202e"


def _read_back(shown: str) -> str:
    """Decode safe()'s escapes as Python would read them in a string literal."""
    return shown.encode("latin-1", "backslashreplace").decode("unicode_escape")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_safe_reads_back_to_the_input_exactly(text: str) -> None:
    """Every escape is a Python string-literal escape and backslashes are doubled: decoding
    the output gives the input back, whatever it held (lone surrogates too)."""
    assert _read_back(safe(text)) == text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())), st.booleans())
def test_the_output_holds_no_escaped_character(text: str, newlines: bool) -> None:
    """No character of an escaped category (but LF with newlines=True) is ever printed raw,
    and needs_escaping agrees with safe."""
    shown = safe(text, newlines=newlines)
    for char in shown:
        if char == " " or (newlines and char == "\n"):
            continue
        assert unicodedata.category(char) not in ESCAPED_CATEGORIES, hex(ord(char))
    assert needs_escaping(text, newlines=newlines) == (shown != text)


def _stdlib_paths() -> list[str]:
    """Real file paths: this Python's standard library, relative to its root."""
    root = sysconfig.get_paths()["stdlib"]
    found = []
    for directory, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(directory, f), root) for f in files]
    return found


def test_real_paths_pass_through_as_the_same_objects() -> None:
    """Real paths (this Python's stdlib) need no escaping: safe returns each string itself, the
    cheap path taken (its cost, about 16 ms per 100,000 paths, is measured, not tested)."""
    paths = _stdlib_paths()
    assert len(paths) > 1000
    shown = [safe(p) for p in paths]
    assert all(a is b for a, b in zip(shown, paths, strict=True))
