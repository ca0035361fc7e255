"""The OCI distribution client: everything that speaks the protocol.

=================  ==========================================================================
``scope``          token-spec resource scopes (``repository:name:pull``)
``challenge``      ``WWW-Authenticate`` challenges (RFC 7235): parse, select, objections
``auth``           token requests and answers, :class:`TokenCache`, the auth flow (no I/O)
``credentials``    Docker ``config.json``, containers ``auth.json``, credential helpers
``redirects``      one redirect hop (RFC 9110 15.4): target, method, body, credentials
``retry``          when to try again (408/429/5xx, ``Retry-After``)
``error_codes``    a failed answer's ``{"errors": [...]}`` body and status -> the typed error
``trace``          the redacted record of every exchange
``protocol``       the distribution spec's rules without I/O: addresses, verification, pages
``transport``      the seam under the client: one ``send``; ``requests`` is the adapter
``client``         :class:`RegistryClient`, the only module that does HTTP
=================  ==========================================================================
"""

from __future__ import annotations

from .auth import TokenCache
from .client import RegistryClient
from .credentials import Credentials
from .trace import Trace

__all__ = ["Credentials", "RegistryClient", "TokenCache", "Trace"]
