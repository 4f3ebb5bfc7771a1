"""Small generated client files for the import tests."""

import datetime as dt
from pathlib import Path


def write_csv(
    path: Path, rows: list[list], *, encoding="utf-8", delimiter=",", newline="\n", bom=False
) -> Path:
    """Write rows as CSV text by hand (quotes where needed) so tests control every byte."""

    def cell(value) -> str:
        text = "" if value is None else str(value)
        if any(ch in text for ch in (delimiter, '"', "\n", "\r")):
            text = '"' + text.replace('"', '""') + '"'
        return text

    text = newline.join(delimiter.join(cell(v) for v in row) for row in rows) + newline
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def write_xlsx(path: Path, rows: list[list], *, title: str | None = None) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


HEADER_RU = ["Телефон", "ФИО", "Дата рождения", "Email", "Пол", "Баллы", "Карта", "Источник"]


def sample_rows() -> list[list]:
    return [
        HEADER_RU,
        [
            "+7 (913) 123-45-67",
            "Иванова Анна",
            "01.02.1990",
            "Anna@Example.COM",
            "ж",
            "150",
            "",
            "2ГИС",
        ],
        ["8 913 123 45 68", "Петров Пётр", "1985-12-31", "", "м", "0", "A-1", ""],
        ["9131234569", "Сидоров", "", "", "", "", "", ""],
    ]


TODAY = dt.date.today()
