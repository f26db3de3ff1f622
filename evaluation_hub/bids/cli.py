"""The `bids` and `shuffle` sub-commands of `evaluation-hub` (argparse).

    evaluation-hub bids check PACKAGE          import + anonymity scan + similarity check
    evaluation-hub shuffle commit  --manifest M --seed-file S [--new-seed]
    evaluation-hub shuffle view    --manifest M --seed-file S (--expert E | --reveal)
    evaluation-hub shuffle verify  --manifest M (--seed HEX | --seed-file S) --commitment HEX
                                   [--views PUBLISHED.json]

Exit codes: 0 all clear; 1 the check found problems (anonymity findings, similar chapters,
a seed or views that do not match); 2 the input could not be used (missing directory,
invalid package, unreadable manifest or seed). The owner of the `evaluation-hub` parser calls
``add_commands``; every handler takes the parsed ``args`` and returns the exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from evaluation_hub.bids.package_io import read_package
from evaluation_hub.bids.report import render_check, render_problems
from evaluation_hub.bids.shuffle_io import (
    InputError,
    create_seed_file,
    parse_seed,
    read_manifest,
    read_published,
    read_seed,
)
from scoring.anonymity import scan_package
from scoring.errors import PackageInvalid, ShuffleManifestInvalid, ShuffleMismatch
from scoring.shuffle import commitment, derive, verify
from scoring.similarity import SimilarityConfig, find_similar_pairs

__all__ = ["add_commands", "bids_check", "shuffle_commit", "shuffle_verify", "shuffle_view"]

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_INPUT = 2


def _out(args: argparse.Namespace) -> TextIO:
    # tests hand in a StringIO; the console gets stdout
    stream: TextIO = getattr(args, "stdout", None) or sys.stdout
    return stream


def _err(args: argparse.Namespace) -> TextIO:
    stream: TextIO = getattr(args, "stderr", None) or sys.stderr
    return stream


def bids_check(args: argparse.Namespace) -> int:
    try:
        package = read_package(Path(args.package))
    except FileNotFoundError as exc:
        print(f"错误：{exc}", file=_err(args))
        return EXIT_INPUT
    except PackageInvalid as exc:
        print(render_problems(exc.problems), file=_out(args))
        return EXIT_INPUT
    config = SimilarityConfig(
        shingle=args.shingle,
        jaccard_threshold=args.jaccard,
        containment_threshold=args.containment,
    )
    findings = scan_package(package)
    pairs = find_similar_pairs(package.texts, config)
    print(render_check(package, findings, pairs), file=_out(args))
    return EXIT_FOUND if findings or pairs else EXIT_OK


def _seed_from(args: argparse.Namespace) -> bytes:
    if getattr(args, "seed", None):
        return parse_seed(args.seed)
    return read_seed(Path(args.seed_file))


def shuffle_commit(args: argparse.Namespace) -> int:
    try:
        manifest = read_manifest(Path(args.manifest))
        seed_path = Path(args.seed_file)
        seed = create_seed_file(seed_path) if args.new_seed else read_seed(seed_path)
        print(commitment(seed, manifest), file=_out(args))
    except (InputError, ShuffleManifestInvalid) as exc:
        print(f"error: {exc}", file=_err(args))
        return EXIT_INPUT
    return EXIT_OK


def shuffle_view(args: argparse.Namespace) -> int:
    try:
        manifest = read_manifest(Path(args.manifest))
        shuffle = derive(read_seed(Path(args.seed_file)), manifest)
    except (InputError, ShuffleManifestInvalid) as exc:
        print(f"error: {exc}", file=_err(args))
        return EXIT_INPUT
    if args.reveal:
        document: object = {"session_id": manifest.session_id, "views": shuffle.published()}
    else:
        if args.expert not in manifest.expert_ids:
            print(f"error: expert {args.expert} is not in the manifest", file=_err(args))
            return EXIT_INPUT
        view = shuffle.view(args.expert)
        document = {
            "session_id": view.session_id,
            "expert": view.expert_id,
            "chapters": [
                {"chapter": c.chapter_id, "labels": list(c.labels)} for c in view.chapters
            ],
        }
    print(json.dumps(document, ensure_ascii=False, indent=2), file=_out(args))
    return EXIT_OK


def shuffle_verify(args: argparse.Namespace) -> int:
    try:
        manifest = read_manifest(Path(args.manifest))
        seed = _seed_from(args)
        published = read_published(Path(args.views)) if args.views else None
    except (InputError, ShuffleManifestInvalid) as exc:
        print(f"error: {exc}", file=_err(args))
        return EXIT_INPUT
    try:
        verify(seed, manifest, args.commitment, published)
    except ShuffleMismatch as exc:
        print(f"验证失败：{exc}", file=_out(args))
        return EXIT_FOUND
    checked = (
        f"，并逐一核对了 {len(manifest.expert_ids)} 位专家 × {len(manifest.chapter_ids)} 章的公布视图"
        if published is not None
        else ""
    )
    print(f"验证通过：种子与承诺值一致{checked}。", file=_out(args))
    return EXIT_OK


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `bids` and `shuffle` parsers to the `evaluation-hub` command."""
    bids = subparsers.add_parser("bids", help="bid packages: import checks")
    bids_sub = bids.add_subparsers(dest="bids_command", required=True)
    check = bids_sub.add_parser(
        "check", help="import a bid package and run the anonymity and similarity checks"
    )
    check.add_argument("package", help="the bid package directory")
    check.add_argument("--shingle", type=int, default=5, help="characters per shingle")
    check.add_argument(
        "--jaccard", type=float, default=0.5, help="report pairs at or above this Jaccard"
    )
    check.add_argument(
        "--containment", type=float, default=0.8, help="… or at or above this containment"
    )
    check.set_defaults(func=bids_check)

    shuffle = subparsers.add_parser("shuffle", help="the staggered-review shuffle")
    sub = shuffle.add_subparsers(dest="shuffle_command", required=True)
    commit = sub.add_parser("commit", help="print the commitment of a seed and manifest")
    commit.add_argument("--manifest", required=True)
    commit.add_argument("--seed-file", required=True)
    commit.add_argument(
        "--new-seed",
        action="store_true",
        help="draw a fresh seed into --seed-file (must not exist)",
    )
    commit.set_defaults(func=shuffle_commit)

    view = sub.add_parser("view", help="print one expert's view, or reveal every mapping")
    view.add_argument("--manifest", required=True)
    view.add_argument("--seed-file", required=True)
    which = view.add_mutually_exclusive_group(required=True)
    which.add_argument("--expert")
    which.add_argument("--reveal", action="store_true", help="the full label → bidder mapping")
    view.set_defaults(func=shuffle_view)

    ver = sub.add_parser("verify", help="check a revealed seed against its commitment")
    ver.add_argument("--manifest", required=True)
    seed = ver.add_mutually_exclusive_group(required=True)
    seed.add_argument("--seed", help="the revealed seed, hex")
    seed.add_argument("--seed-file")
    ver.add_argument("--commitment", required=True, help="the commitment published before review")
    ver.add_argument("--views", help="published views (JSON from `shuffle view --reveal`)")
    ver.set_defaults(func=shuffle_verify)
