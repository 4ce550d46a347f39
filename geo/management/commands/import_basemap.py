"""Import an OpenStreetMap extract (.osm.pbf) as the offline base map, replacing the previous one."""

from django.core.management.base import BaseCommand, CommandError

from geo.basemap import basemap_import
from geo.importers import GeodataError


class Command(BaseCommand):
    help = "Replace the base map with an OpenStreetMap extract (.osm.pbf or .osm); report the counts per layer."

    def add_arguments(self, parser):
        parser.add_argument("file", help="an OpenStreetMap extract, e.g. yunnan-latest.osm.pbf")

    def handle(self, *args, file, **options):
        try:
            report = basemap_import(path=file)
        except GeodataError as exc:
            raise CommandError(f"{exc}; the previous base map is unchanged") from None
        counts = ", ".join(f"{layer} {n}" for layer, n in report.counts.items())
        self.stdout.write(f"{file}: base map replaced (tiles version {report.version}): {counts}")
        self.stdout.write(f"  {report.names} names in the place search; bounds {report.bounds}")
        if report.dropped:
            self.stdout.write(f"  {report.dropped} features left out: no valid geometry")
