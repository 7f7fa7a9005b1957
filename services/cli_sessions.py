"""`canbao sessions revoke --subject <id>`: end every browser session of one member of staff.

For someone who left, or a lost or shared device: every replica of every service refuses that
person's session cookies issued up to now within a few seconds
(`CANBAO_SESSION_REVOCATION_REFRESH_SECONDS`); signing in again afterwards works as usual
(disable the account at the identity provider to stop that). Sign-out ends one session the
same way by itself. See shared/session_revocation.py.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass

from shared.security_settings import get_security_settings
from shared.session_revocation import SessionRevocations
from shared.settings import get_settings


def build_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    sub = parser.add_subparsers(dest="sessions_command", required=True)
    revoke = sub.add_parser("revoke", help="end every browser session of one member of staff "
                                           "issued up to now (结束某人的全部登录会话)")
    revoke.add_argument("--subject", required=True,
                        help="the person's subject (the identity provider's `sub`)")
    revoke.add_argument("--reason", default="", help="why (kept with the revocation)")
    revoke.add_argument("--by", default=None,
                        help="who revokes (default: the operating-system user)")
    revoke.set_defaults(func=cmd_sessions_revoke)
    return parser


def cmd_sessions_revoke(args: argparse.Namespace) -> int:
    subject = args.subject.strip()
    if not subject or len(subject) > 255:
        print("--subject 不能为空且不超过 255 个字符 (--subject must be 1-255 characters)")
        return 2
    security = get_security_settings()
    store = SessionRevocations(security.session_database_url or get_settings().database_url)
    before = asyncio.run(store.revoke_subject(subject, by=args.by or getpass.getuser(),
                                              reason=args.reason))
    at = dt.datetime.fromtimestamp(before, dt.UTC).isoformat(timespec="seconds")
    print(f"已结束 {subject} 在 {at} 之前登录的全部会话 "
          f"(every session of {subject} issued up to {at} is ended)")
    return 0
