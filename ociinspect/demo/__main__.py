"""``python -m ociinspect.demo``: run the demo registry until Ctrl-C.

Prints the references it serves and how to reach it with curl, skopeo and ociinspect.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from . import USER
from .server import DemoRegistry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ociinspect.demo",
        description="A small OCI registry on loopback serving ociinspect's sample images.",
    )
    parser.add_argument("--port", type=int, default=0, help="registry port (default: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument(
        "--rate-limit", type=int, metavar="N", help="send Docker Hub's headers: N pulls per window"
    )
    parser.add_argument(
        "--fail-after", type=int, metavar="N", help="answer 429 to manifest GETs after N pulls"
    )
    parser.add_argument(
        "--print-password", action="store_true", help=f"print the password of the user {USER}"
    )
    args = parser.parse_args(argv)
    registry = DemoRegistry(
        host=args.host, port=args.port, rate_limit=args.rate_limit, fail_after=args.fail_after
    ).start()
    print(
        f"demo registry at {registry.url} (token server {registry.token_url}, "
        f"CDN {registry.cdn_url})"
    )
    for name in ("sample:latest", "sample:2.0", "other/hello:latest", "formats:oci-zstd-chunked"):
        print(f"  {registry.ref(name)}")
    print(
        f"push to {registry.ref('scratch/<name>:<tag>')} as {USER}"
        + (
            f" (password {registry.tokens.password})"
            if args.print_password
            else " (--print-password shows the password)"
        )
    )
    print(f"try: skopeo inspect --tls-verify=false docker://{registry.ref('sample:latest')}")
    print(f"     python -m ociinspect platforms {registry.ref('sample:latest')}")
    print("Ctrl-C stops it.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
