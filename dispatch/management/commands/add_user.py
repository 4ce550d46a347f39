"""Create (or update) a user with a role."""

from django.core.management.base import BaseCommand, CommandError

from dispatch.errors import DispatchError
from dispatch.roles import Role
from dispatch.services import user_add


class Command(BaseCommand):
    help = "Create or update a user with a role; prints the password when one is generated."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--subcenter", help="sub-center code (operators only)")
        parser.add_argument("--password", help="omit to generate one")

    def handle(self, *args, username, role, subcenter, password, **options):
        try:
            user, used = user_add(username=username, role=role, subcenter_code=subcenter, password=password)
        except DispatchError as exc:
            raise CommandError(str(exc)) from None
        where = f" at {subcenter}" if subcenter else ""
        self.stdout.write(f"{user.username}: {role}{where}")
        if not password:
            self.stdout.write(f"password: {used}")
