"""``HTMLView``: an HTML widget whose marked elements can be clicked (an anywidget).

The browser's tables, chart and headers are HTML from :mod:`.render` and :mod:`.chart`. Two
attributes make parts of it act (``static/htmlview.js``):

- ``data-oi-copy="TEXT"`` copies ``TEXT`` to the clipboard in the page (a digest, a command);
- ``data-oi-action="NAME" data-oi-arg="VALUE"`` sends the action to the kernel, where the
  handler registered with :meth:`HTMLView.on_action` runs (a platform row selects that
  platform; a layer row lists it in the Files tab).

:meth:`HTMLView.act` does in Python what a click does, for tests and notebooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
from traitlets import Unicode

from .format import copy_button, esc
from .grid import STATIC

Handler = Callable[[str], None]


class HTMLView(anywidget.AnyWidget):
    """HTML shown as given; elements with ``data-oi-action`` / ``data-oi-copy`` act."""

    _esm = STATIC / "htmlview.js"
    value = Unicode("", help="The HTML shown (escape every value from an image first).").tag(
        sync=True
    )

    def __init__(self, value: str = "", **kwargs: Any) -> None:
        super().__init__(value=value, **kwargs)
        self._handlers: dict[str, Handler] = {}
        self.on_msg(self._on_message)

    def on_action(self, name: str, handler: Handler) -> None:
        """Run ``handler(arg)`` when an element with ``data-oi-action=name`` is clicked."""
        self._handlers[name] = handler

    def act(self, name: str, arg: str = "") -> bool:
        """What a click on ``data-oi-action=name data-oi-arg=arg`` does; False if unhandled."""
        handler = self._handlers.get(name)
        if handler is None:
            return False
        handler(arg)
        return True

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "action":
            self.act(str(content.get("action", "")), str(content.get("arg", "")))


def action_attrs(name: str, arg: object = "") -> str:
    """The attributes that make an element send action ``name`` with ``arg`` when clicked
    (focusable, so the keyboard reaches it too)."""
    return f' data-oi-action="{esc(name)}" data-oi-arg="{esc(arg)}" tabindex="0"'


__all__ = ["HTMLView", "action_attrs", "copy_button"]
