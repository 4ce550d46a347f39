"""Import GeoJSON, TopoJSON or a Shapefile as jurisdictions or as a named layer."""

from django.core.management.base import BaseCommand, CommandError

from geo.importers import GeodataError, jurisdiction_records, layer_records
from geo.models import Jurisdiction
from geo.services import jurisdictions_import, layer_import


class Command(BaseCommand):
    help = "Import a GeoJSON, TopoJSON or Shapefile as jurisdictions or as a named layer."

    def add_arguments(self, parser):
        parser.add_argument("file")
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--jurisdictions", action="store_true", help="import as jurisdictions")
        target.add_argument("--layer", metavar="NAME", help="import as the layer NAME")
        parser.add_argument("--name-field", help="property holding the name (dotted for nested)")
        parser.add_argument("--code-field", help="property holding the unique code")
        parser.add_argument("--parent-field", help="property holding the parent's code")
        parser.add_argument(
            "--level", default=Jurisdiction.Level.OTHER, choices=Jurisdiction.Level.values
        )
        parser.add_argument("--gcj02", action="store_true", help="source coordinates are GCJ-02")
        parser.add_argument(
            "--subcenter-kinds", default="", metavar="KINDS",
            help="comma-separated kinds: create one sub-center of each per jurisdiction",
        )
        parser.add_argument("--title", default="", help="layer title")
        parser.add_argument("--attribution", default="", help="layer data attribution")

    def handle(self, *args, **options):
        try:
            report = self._import(options)
        except (GeodataError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self._print(report, options)

    def _import(self, options):
        if options["jurisdictions"]:
            if not options["name_field"] or not options["code_field"]:
                raise CommandError("--jurisdictions needs --name-field and --code-field")
            records = jurisdiction_records(
                options["file"], name_field=options["name_field"], code_field=options["code_field"],
                parent_field=options["parent_field"], gcj02=options["gcj02"],
            )
            kinds = [k.strip() for k in options["subcenter_kinds"].split(",") if k.strip()]
            return jurisdictions_import(records=records, level=options["level"], subcenter_kinds=kinds)
        if options["subcenter_kinds"]:
            raise CommandError("--subcenter-kinds goes with --jurisdictions")
        records = layer_records(
            options["file"], name_field=options["name_field"], code_field=options["code_field"],
            gcj02=options["gcj02"],
        )
        return layer_import(
            name=options["layer"], records=records, title=options["title"],
            attribution=options["attribution"],
        )

    def _print(self, report, options):
        what = "jurisdictions" if options["jurisdictions"] else f"features of layer {options['layer']}"
        self.stdout.write(
            f"{options['file']}: {report.created} {what} created, {report.updated} updated"
            + (f", {report.subcenters_created} sub-centers created" if report.subcenters_created else "")
        )
        if report.repaired:
            shown = report.repaired if options["verbosity"] > 1 else report.repaired[:5]
            more = len(report.repaired) - len(shown)
            self.stdout.write(
                f"  repaired {len(report.repaired)} invalid geometries (make_valid): {', '.join(shown)}"
                + (f" and {more} more (-v 2 lists all)" if more else "")
            )
        if report.parents_missing:
            self.stdout.write(
                f"  {len(report.parents_missing)} parent code(s) not found; left without parent, "
                f"e.g. {report.parents_missing[0]}"
            )
