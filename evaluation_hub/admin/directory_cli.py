"""``evaluation-hub venue list|add|import`` and ``evaluation-hub seat list|add|import``: the
directory's venues and seats from the hub's host, for automation.

Like ``user …`` (``admin.cli``) they act as ``cli:<OS user>`` in the system administrator's
role; every change goes through its use case and onto the audit chain. ``--dry-run`` checks
everything, reports what would change and changes nothing. Lists are tab-separated with a
header line. Exit status: 0 done (or would be); 2 nothing was changed (the refusal on stderr).
"""

from __future__ import annotations

import argparse
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation_hub.admin.cli import (
    EXIT_OK,
    cli_actor,
    database_option,
    print_report,
    run_import_with,
    with_database,
)
from evaluation_hub.booking.directory import CAPABILITIES, SEAT_STATUSES

if TYPE_CHECKING:
    from evaluation_hub.admin.imports import ImportReport
    from evaluation_hub.booking.directory import SeatRecord, VenueRecord
    from evaluation_hub.db.engine import Database

__all__ = ["add_commands"]


def _dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="check and report what would change; change nothing"
    )


def _import(sub: Any, what: str, columns: str, func: Any) -> None:
    parser = sub.add_parser(
        "import",
        help=f"add {what} from a CSV file (columns: {columns})",
        description=f"Import {what} from CSV (docs/administration.md). Every row is checked "
        "first; any bad row imports nothing. Rows whose key exists are left as they are.",
    )
    database_option(parser)
    parser.add_argument("file", type=Path, help="the CSV file (UTF-8, header line first)")
    _dry_run(parser)
    parser.set_defaults(func=func)


def add_commands(subparsers: Any) -> None:
    """Add ``venue …`` and ``seat …`` to the ``evaluation-hub`` subcommands."""
    venue = subparsers.add_parser("venue", help="evaluation venues (场地)")
    venues = venue.add_subparsers(dest="venue_command", required=True)
    listing = venues.add_parser("list", help="list the venues (tab-separated)")
    database_option(listing)
    listing.set_defaults(func=run_venue_list)
    add = venues.add_parser("add", help="register a venue")
    database_option(add)
    add.add_argument("code", help="upper-case letters and digits, e.g. KM (prefixes seat keys)")
    add.add_argument("--name", required=True)
    add.add_argument("--region-code", required=True, help="6-digit code from configs/regions")
    add.add_argument("--supervising-department", required=True, help="监督部门")
    add.add_argument("--contact-name", default="")
    add.add_argument("--contact-phone", default="")
    add.add_argument("--latitude", default="")
    add.add_argument("--longitude", default="")
    _dry_run(add)
    add.set_defaults(func=run_venue_add)
    _import(
        venues,
        "venues",
        "code, name, region_code, supervising_department, contact_name, contact_phone, "
        "latitude, longitude",
        run_venue_import,
    )

    seat = subparsers.add_parser("seat", help="seats (工位) of the venues")
    seats = seat.add_subparsers(dest="seat_command", required=True)
    listing = seats.add_parser("list", help="list seats, shared or not (tab-separated)")
    database_option(listing)
    listing.add_argument("--venue-code", help="only this venue's seats")
    listing.set_defaults(func=run_seat_list)
    add = seats.add_parser("add", help="publish a seat of a venue")
    database_option(add)
    add.add_argument("venue_code")
    add.add_argument("label", help="e.g. KM-05 (its key is VENUE.LABEL)")
    add.add_argument("--room", default="")
    add.add_argument("--capability", action="append", default=[], choices=CAPABILITIES)
    add.add_argument("--status", default="available", choices=SEAT_STATUSES)
    add.add_argument("--not-shared", action="store_true", help="not offered to other venues")
    _dry_run(add)
    add.set_defaults(func=run_seat_add)
    _import(
        seats, "seats", "venue_code, label, room, capabilities, status, shared", run_seat_import
    )


def _one_row(header: list[str], row: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(row)
    return out.getvalue()


def _single(args: argparse.Namespace, importer: Any, text: str, refusal: Any) -> int:
    """``… add``: one row through its importer (which checks it exactly as an imported row);
    an existing key is refused here, as the use case would."""

    async def work(db: Database) -> ImportReport:
        now = datetime.now(UTC)
        report: ImportReport = await importer(db, cli_actor(), text, dry_run=True, now=now)
        if report.present:
            raise refusal()
        if not args.dry_run:
            report = await importer(db, cli_actor(), text, dry_run=False, now=now)
        return report

    print_report(with_database(args, work))
    return EXIT_OK


def run_venue_add(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.errors import VenueCodeTaken
    from evaluation_hub.admin.imports import VENUE_COLUMNS, import_venues

    names = VENUE_COLUMNS[0] + VENUE_COLUMNS[1]
    row = [str(getattr(args, name)) for name in names]
    text = _one_row(list(names), row)
    return _single(args, import_venues, text, lambda: VenueCodeTaken(args.code))


def run_seat_add(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.imports import SEAT_COLUMNS, import_seats
    from evaluation_hub.errors import Conflict

    row = [
        args.venue_code,
        args.label,
        args.room,
        " ".join(args.capability),
        args.status,
        "false" if args.not_shared else "true",
    ]
    text = _one_row(list(SEAT_COLUMNS[0] + SEAT_COLUMNS[1]), row)
    return _single(
        args,
        import_seats,
        text,
        lambda: Conflict(
            "seat-label-taken", f"场地「{args.venue_code}」已有编号为 {args.label} 的工位"
        ),
    )


def run_venue_import(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.imports import import_venues

    return run_import_with(args, import_venues)


def run_seat_import(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.imports import import_seats

    return run_import_with(args, import_seats)


def run_venue_list(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.venues import list_venues

    async def listing(db: Database) -> list[VenueRecord]:
        return await list_venues(db, cli_actor())

    print("code\tname\tregion_code\tenabled\tsupervising_department\tcontact\tcoordinates")
    for v in with_database(args, listing):
        where = "-" if v.latitude is None else f"{v.latitude},{v.longitude}"
        contact = " ".join(x for x in (v.contact_name, v.contact_phone) if x) or "-"
        state = "enabled" if v.enabled else "disabled"
        print(
            f"{v.code}\t{v.name}\t{v.region_code}\t{state}\t{v.supervising_department}\t"
            f"{contact}\t{where}"
        )
    return EXIT_OK


def run_seat_list(args: argparse.Namespace) -> int:
    from evaluation_hub.admin.venues import list_venues
    from evaluation_hub.booking.directory import SeatQuery, list_seats

    async def listing(db: Database) -> list[tuple[str, SeatRecord]]:
        actor = cli_actor()
        codes = {v.id: v.code for v in await list_venues(db, actor)}
        venue_id = None
        if args.venue_code is not None:
            from evaluation_hub.admin.venues import venue_id_of

            venue_id = await venue_id_of(db, args.venue_code)
        query = SeatQuery(venue_id=venue_id, include_unshared=True)
        found = await list_seats(db, actor, query, now=datetime.now(UTC))
        return [(codes[s.venue_id], s) for s in found]

    print("seat_key\troom\tstatus\tshared\tcapabilities")
    for code, s in with_database(args, listing):
        shared = "shared" if s.shared else "not-shared"
        print(
            f"{code}.{s.label}\t{s.room or '-'}\t{s.status}\t{shared}\t{','.join(s.capabilities) or '-'}"
        )
    return EXIT_OK
