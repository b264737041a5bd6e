"""`linebox ssh-keys ...`: the ssh login keys of a running Linebox, through its engine API (the
same checks as the web's "ssh access" page; run it as root on the appliance).

    linebox ssh-keys list                     the keys that may log in (fingerprint, type, comment)
    linebox ssh-keys add FILE                 add the public keys in FILE (`-`: standard input)
    linebox ssh-keys remove FINGERPRINT       remove one key (SHA256:...); the last one turns ssh off
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

MAX_FILE = 64 * 1024


def _print(answer: dict) -> None:
    for k in answer["keys"]:
        print(f"{k['fingerprint']}  {k['type']} ({k['bits']} bits)  {k['comment']}")
    state = "on" if answer["ssh_on"] else "off (no key)"
    print(f"ssh {state}; {len(answer['keys'])} key(s) may log in as {answer['login']}"
          + (f"; {answer['service']}" if answer.get("service") else ""))


def _run(args: argparse.Namespace) -> int:
    from ..api import ApiError
    from ..api_client import ApiConnection
    from ..api_wire import SOCKET_NAME
    try:
        if args.ssh_cmd == "add":
            source = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
            with source:
                text = source.read(MAX_FILE + 1)
            call = ("ssh.keys.add", {"text": text})
        elif args.ssh_cmd == "remove":
            call = ("ssh.keys.remove", {"fingerprint": args.fingerprint})
        else:
            call = ("ssh.keys", {})
        with ApiConnection(Path(args.data) / SOCKET_NAME, client="ssh-keys") as api:
            answer = api.call(call[0], **call[1])
    except ApiError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"Cannot reach the Linebox engine ({exc.strerror or exc}); is it running, with data in {args.data}?",
              file=sys.stderr)
        return 1
    _print(answer)
    return 0


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    p = sub.add_parser("ssh-keys", help="the ssh login keys: list, add FILE, remove FINGERPRINT")
    ss = p.add_subparsers(dest="ssh_cmd", required=True)
    for name, helptext in (("list", "the keys that may log in"), ("add", "add the public keys in FILE (- for stdin)"),
                           ("remove", "remove the key with this fingerprint")):
        q = ss.add_parser(name, help=helptext)
        q.add_argument("--data", default="/var/lib/linebox")
        q.set_defaults(fn=_run)
        if name == "add":
            q.add_argument("file")
        if name == "remove":
            q.add_argument("fingerprint")
