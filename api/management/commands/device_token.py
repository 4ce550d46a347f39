"""Issue, list and revoke terminals' device tokens (终端令牌)."""

from django.core.management.base import BaseCommand, CommandError

from api import tokens
from dispatch.errors import DispatchError


class Command(BaseCommand):
    help = "device_token issue USERNAME [--name N] | list | revoke ID"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        issue = sub.add_parser("issue", help="issue a token bound to an operator and their sub-center")
        issue.add_argument("username")
        issue.add_argument("--name", default="", help="what the terminal is, e.g. 'water desk 2'")
        sub.add_parser("list", help="list device tokens")
        revoke = sub.add_parser("revoke", help="revoke a token by id")
        revoke.add_argument("id", type=int)

    def handle(self, *args, action, **options):
        try:
            getattr(self, action)(**options)
        except DispatchError as problem:
            raise CommandError(str(problem)) from None

    def issue(self, username, name, **options):
        token, secret = tokens.device_token_issue(username=username, name=name)
        self.stderr.write(f"token {token.pk} for {token.user} at {token.subcenter.code}; the secret is shown only now:")
        self.stdout.write(secret)

    def list(self, **options):
        for token in tokens.device_tokens():
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
            self.stdout.write(
                f"{token.pk}\t{token.prefix}…\t{token.user.username}\t{token.subcenter.code}\t{token.name}\t{state}"
            )

    def revoke(self, id, **options):
        changed = tokens.token_revoke(token_id=id)
        self.stdout.write(f"token {id} revoked" if changed else f"token {id} was already revoked")
