"""Delete a user's second factors (TOTP app and recovery codes): they enrol again at their next page."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.two_factor import second_factor_reset


class Command(BaseCommand):
    help = "reset_2fa USERNAME: delete the user's TOTP devices and recovery codes (a lost phone)"

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        deleted = second_factor_reset(user=user)
        self.stdout.write(f"{username}: {deleted} device(s) deleted; a second factor is set up again at the next login")
