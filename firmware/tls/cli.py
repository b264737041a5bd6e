"""`linebox redirect-https`: port 80 answers with a redirect to the HTTPS web UI (the image's
linebox-http-redirect.service)."""
from __future__ import annotations

import argparse


def _redirect(args: argparse.Namespace) -> int:
    from .redirect import run
    return run(args.host, args.port, args.to_port)


def register(sub) -> None:
    p = sub.add_parser("redirect-https", help="answer plain HTTP with a redirect to the HTTPS web UI")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--to-port", type=int, default=443, help="the HTTPS port of the web UI")
    p.set_defaults(fn=_redirect)
