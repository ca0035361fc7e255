"""Jupyter widgets over the table API: :func:`browse` / :class:`ImageBrowser`.

The HTML they show comes from pure functions (:mod:`.render`, :mod:`.chart`) that tests and
other front ends can call without a browser.
"""

from .browser import TABS, ImageBrowser, browse

__all__ = ["TABS", "ImageBrowser", "browse"]
