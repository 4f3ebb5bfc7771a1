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


def admin_confirm_columns(client, response, changes: dict | None = None):
    """Follow an admin upload to its column step and continue to the dry run with the proposed
    columns (`changes`: {column index: field or ""} to override). Returns the dry-run response."""
    import re

    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    data = {"apply": ""}
    for match in re.finditer(r'<select name="column-(\d+)".*?</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', match.group(0))
        data[f"column-{match.group(1)}"] = chosen.group(1) if chosen else ""
    for index, field_name in (changes or {}).items():
        data[f"column-{index}"] = field_name
    return client.post(response["Location"], data)
