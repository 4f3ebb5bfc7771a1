"""Hostile import files: each class is generated and run through the importer's command line
(`manage.py import_clients FILE --merchant SLUG --dry-run`) in its own process on a scratch SQLite
database; the bench prints the process's peak RSS, its wall time and how it ended.

    python bench/hostile_files.py [--keep DIR] [--only NAME ...]

Target (issue 11): every file is refused or imported within 300 MB and 10 s, and no process
dies from a signal. Each line: `RESULT hostile_<name> <peak MB> MB <seconds> s <exit>` — exit 0
imported (dry run), 1 refused with a message, negative = killed by that signal."""

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LIMIT_MB, LIMIT_S = 300, 10.0

CT = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
    'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
WB = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.'
    'org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
    'openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main">'
)
HEADER = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Телефон</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>ФИО</t></is></c></row>'
)


def xlsx(path: Path, sheet_parts, *, shared_parts=None) -> Path:
    """Write a workbook; the sheet (and shared strings) come as an iterable of str chunks so a
    gigabyte of XML is streamed into the zip, never held in memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CT)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WB)
        archive.writestr("xl/_rels/workbook.xml.rels", WB_RELS)
        for name, parts in (
            ("xl/worksheets/sheet1.xml", sheet_parts),
            ("xl/sharedStrings.xml", shared_parts),
        ):
            if parts is None:
                continue
            with archive.open(name, "w", force_zip64=True) as member:
                for part in parts:
                    member.write(part.encode())
    return path


def repeat(text: str, times: int, chunk: int = 10_000):
    block = text * chunk
    for _ in range(times // chunk):
        yield block


# --- the hostile classes ----------------------------------------------------------------------


def huge_declared_dimension(d: Path) -> Path:
    sheet = (
        HEAD + '<dimension ref="A1:XFD1048576"/><sheetData>' + HEADER + "</sheetData></worksheet>"
    )
    return xlsx(d / "declared.xlsx", [sheet])


def huge_real_extent(d: Path) -> Path:
    rows = HEADER + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return xlsx(d / "extent.xlsx", [HEAD + "<sheetData>" + rows + "</sheetData></worksheet>"])


def huge_extent_within_columns(d: Path) -> Path:
    rows = HEADER + '<row r="1048576"><c r="GR1048576"><v>1</v></c></row>'  # 1M × 200 cells
    return xlsx(d / "area.xlsx", [HEAD + "<sheetData>" + rows + "</sheetData></worksheet>"])


def shared_strings_bomb(d: Path) -> Path:
    sheet = HEAD + "<sheetData>" + HEADER + "</sheetData></worksheet>"
    shared = [
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">',
        *repeat("<si><t>" + "A" * 90 + "</t></si>", 10_000_000),
        "</sst>",
    ]
    return xlsx(d / "sst-bomb.xlsx", [sheet], shared_parts=shared)


def cells_bomb(d: Path) -> Path:
    # Millions of cell elements, all at the same few addresses: tiny area, huge element count.
    parts = [HEAD, "<sheetData>", HEADER, '<row r="2">']
    parts += list(repeat('<c r="A2"><v>79131234567</v></c>', 20_000_000))
    parts += ["</row></sheetData></worksheet>"]
    return xlsx(d / "cells-bomb.xlsx", parts)


def deep_nesting(d: Path) -> Path:
    depth = 2_000_000
    parts = [HEAD, "<sheetData>", HEADER, '<row r="2"><c r="A2"><is>']
    parts += list(repeat("<r>", depth)) + list(repeat("</r>", depth))
    parts += ["</is></c></row></sheetData></worksheet>"]
    return xlsx(d / "deep.xlsx", parts)


def billion_laughs(d: Path) -> Path:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
        + HEAD.split("?>", 1)[1]
        + "<sheetData>"
        + HEADER
        + '<row r="2"><c r="B2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        + "</sheetData></worksheet>"
    )
    return xlsx(d / "laughs.xlsx", [sheet])


def csv_one_line(d: Path) -> Path:
    path = d / "one-line.csv"
    with open(path, "wb") as handle:
        handle.write(b"phone,name,")
        block = b"x" * (1024 * 1024)
        for _ in range(190):  # under the 200 MB upload cap: the line guard must refuse it
            handle.write(block)
    return path


def csv_million_columns(d: Path) -> Path:
    path = d / "columns.csv"
    with open(path, "wb") as handle:
        handle.write(b"phone,name\n79131234567,")
        handle.write(b",".join([b"x"] * 1_000_000) + b"\n")
    return path


def binary_named_csv(d: Path) -> Path:
    path = d / "binary.csv"
    path.write_bytes(random.Random(1).randbytes(5 * 1024 * 1024))
    return path


def wrong_encoding(d: Path) -> Path:
    path = d / "encoding.csv"
    head = "Телефон;ФИО\n" + "".join(f"7913{i:07d};Иван\n" for i in range(20_000))
    tail = "".join(f"7914{i:07d};Пётр\n" for i in range(20_000))
    path.write_bytes(head.encode("utf-8") + tail.encode("utf-16-le"))
    return path


def zip_of_garbage(d: Path) -> Path:
    path = d / "garbage.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("noise.bin", random.Random(2).randbytes(1024 * 1024))
    return path


def xlsx_not_a_zip(d: Path) -> Path:
    path = d / "truncated.xlsx"
    path.write_bytes(b"PK\x03\x04" + random.Random(3).randbytes(64 * 1024))
    return path


def ods_repeated(d: Path) -> Path:
    path = d / "repeated.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr(
            "content.xml",
            '<table:table-row table:number-rows-repeated="1048576"><table:table-cell '
            'table:number-columns-repeated="16384"/></table:table-row>',
        )
    return path


def legit_xlsx_20000(d: Path) -> Path:
    rows = [HEADER]
    for i in range(2, 20_002):
        rows.append(
            f'<row r="{i}"><c r="A{i}"><v>7913{i:07d}</v></c>'
            f'<c r="B{i}" t="inlineStr"><is><t>Иванова Анна {i}</t></is></c></row>'
        )
    return xlsx(d / "legit.xlsx", [HEAD + "<sheetData>", *rows, "</sheetData></worksheet>"])


def legit_csv_20000(d: Path) -> Path:
    path = d / "legit.csv"
    text = "Телефон;ФИО\n" + "".join(f"7913{i:07d};Иванова Анна {i}\n" for i in range(20_000))
    path.write_text(text, encoding="utf-8")
    return path


def baseline_tiny_csv(d: Path) -> Path:
    """Not hostile: the cost of starting the command at all (Django, settings, database)."""
    path = d / "tiny.csv"
    path.write_text("Телефон;ФИО\n79131234567;Анна\n", encoding="utf-8")
    return path


CLASSES = [
    baseline_tiny_csv,
    huge_declared_dimension,
    huge_real_extent,
    huge_extent_within_columns,
    shared_strings_bomb,
    cells_bomb,
    deep_nesting,
    billion_laughs,
    csv_one_line,
    csv_million_columns,
    binary_named_csv,
    wrong_encoding,
    zip_of_garbage,
    xlsx_not_a_zip,
    ods_repeated,
    legit_xlsx_20000,
    legit_csv_20000,
]


def run(env: dict, *args) -> tuple[float, float, int, str]:
    """Run manage.py in a child; return (peak RSS MB, seconds, exit code, last output line)."""
    started = time.monotonic()
    child = subprocess.Popen(
        [PYTHON, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _err = child.communicate(timeout=600)
    seconds = time.monotonic() - started
    # wait4 is done by communicate; the child's own rusage is read through RUSAGE_CHILDREN's
    # maximum, which is the largest child so far — so each run is in a fresh bench process.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    last = (output.decode(errors="replace").strip().splitlines() or [""])[-1]
    return peak, seconds, child.returncode, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="write the files here (default: a temporary folder)")
    parser.add_argument("--only", nargs="*", help="run only these classes")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one class
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return measure_one(args.one, Path(args.keep), args.db)
    work = Path(args.keep or tempfile.mkdtemp(prefix="hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "scratch.sqlite3"
    env = scratch_env(db, work)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run(
        [
            PYTHON,
            "manage.py",
            "shell",
            "-c",
            "from onboarding.models import Merchant; "
            "Merchant.objects.get_or_create(slug='hostile', defaults={'name': 'Hostile', 'country': 'RU'})",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    failures = 0
    for make in CLASSES:
        if args.only and make.__name__ not in args.only:
            continue
        # A fresh bench process per class: RUSAGE_CHILDREN then holds that one import's peak.
        done = subprocess.run(
            [PYTHON, __file__, "--one", make.__name__, "--keep", str(work), "--db", str(db)],
            capture_output=True,
            text=True,
        )
        print(done.stdout, end="")
        failures += done.returncode != 0
    return 1 if failures else 0


def scratch_env(db: Path, work: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        CELERY_BROKER_URL="",
        CELERY_TASK_ALWAYS_EAGER="true",
        IMPORT_UPLOAD_ROOT=str(work / "uploads"),
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    return env


def measure_one(name: str, work: Path, db: str) -> int:
    make = {c.__name__: c for c in CLASSES}[name]
    made = time.monotonic()
    path = make(work)
    build = time.monotonic() - made
    env = scratch_env(Path(db), work)
    peak, seconds, code, last = run(
        env, "import_clients", str(path), "--merchant", "hostile", "--dry-run"
    )
    size = path.stat().st_size
    ok = code >= 0 and peak <= LIMIT_MB and seconds <= LIMIT_S
    print(f"# {name}: {size / 1024:.0f} KB file (built in {build:.1f} s) → {last[:160]}")
    print(
        f"RESULT hostile_{name} {peak:.0f} MB {seconds:.1f} s {code}"
        + ("" if ok else "  # OVER TARGET")
    )
    path.unlink(missing_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
