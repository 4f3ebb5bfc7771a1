"""The UI is Russian by default, English on request, and every string of ours is translated.

The catalogue lives in `locale/ru/LC_MESSAGES/`; both `django.po` and the compiled `django.mo`
are committed so a machine without gettext tools still serves Russian. After adding UI strings:

    .venv/bin/python manage.py makemessages -l ru --ignore=.venv --ignore=bench \
        --ignore=tests --no-location --no-obsolete
    # translate the new/fuzzy entries, then
    .venv/bin/python manage.py compilemessages -l ru --ignore=.venv
"""

import gettext
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.commands import makemessages
from django.utils import translation

from config import settings as project_settings
from loyalty.program import TierSpec, validate_tier_ladder

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_PATH = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po"
MO_PATH = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.mo"

RU_ADMIN_TITLE = "Внедрение программы лояльности"
RU_SITE_TITLE = "Портал лояльности"

# --- a small .po reader (enough for the files makemessages writes) ---------------------------

_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$')
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m.group(1)], text.strip()[1:-1])


def read_po(path: Path) -> list[dict]:
    """Entries of a .po file as dicts: msgid, msgid_plural, msgstr (list), flags, obsolete."""
    entries, entry, field = [], None, None

    def flush():
        if entry is not None and "msgid" in entry:
            entries.append(entry)

    for raw in path.read_text(encoding="utf-8").splitlines() + [""]:
        line = raw
        if not line.strip():
            flush()
            entry, field = None, None
            continue
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if entry is None:
            entry = {"flags": set(), "msgstr": {}, "obsolete": False}
        entry["obsolete"] |= obsolete
        if line.startswith("#,"):
            entry["flags"] |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            field = match.group(1)
            value = _unquote(match.group(2))
            if field.startswith("msgstr"):
                entry["msgstr"][field] = value
            else:
                entry[field] = value
        elif line.startswith('"') and field:
            if field.startswith("msgstr"):
                entry["msgstr"][field] += _unquote(line)
            else:
                entry[field] += _unquote(line)
    return entries


def untranslated(entries: list[dict]) -> list[str]:
    """msgids (not the header, not obsolete) that are fuzzy or have an empty translation."""
    return [
        e["msgid"]
        for e in entries
        if e["msgid"]
        and not e["obsolete"]
        and ("fuzzy" in e["flags"] or not e["msgstr"] or not all(e["msgstr"].values()))
    ]


# --- pages -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def project_language(settings):
    """The test suite runs in English (tests/conftest.py); these tests need the project's own
    default language back."""
    settings.LANGUAGE_CODE = project_settings.LANGUAGE_CODE


def test_project_default_language_is_russian():
    assert project_settings.LANGUAGE_CODE == "ru"
    assert [code for code, _name in project_settings.LANGUAGES] == ["ru", "en"]
    assert "django.middleware.locale.LocaleMiddleware" in project_settings.MIDDLEWARE
    assert LOCALE_DIR in map(Path, project_settings.LOCALE_PATHS)


@pytest.mark.django_db
def test_admin_login_is_russian_by_default(client):
    html = client.get("/admin/login/").content.decode()
    assert RU_ADMIN_TITLE in html
    assert "Loyalty onboarding" not in html


@pytest.mark.django_db
def test_site_login_is_russian_by_default(client):
    response = client.get("/accounts/login/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ru">' in html
    assert RU_SITE_TITLE in html
    assert "Имя пользователя" in html and "Пароль" in html
    assert "Username" not in html


@pytest.mark.django_db
def test_russian_browser_gets_russian(client):
    html = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").content.decode()
    assert RU_SITE_TITLE in html


@pytest.mark.django_db
def test_language_cookie_selects_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    site = client.get("/accounts/login/").content.decode()
    admin = client.get("/admin/login/").content.decode()
    assert '<html lang="en">' in site
    assert "Loyalty portal" in site and "Username" in site
    assert RU_SITE_TITLE not in site
    assert "Loyalty onboarding" in admin
    assert RU_ADMIN_TITLE not in admin


@pytest.mark.django_db
def test_set_language_switches_to_english_and_back(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Loyalty portal" in client.get("/accounts/login/").content.decode()

    client.post("/i18n/setlang/", {"language": "ru", "next": "/accounts/login/"})
    assert RU_SITE_TITLE in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_unknown_language_is_ignored(client):
    client.post("/i18n/setlang/", {"language": "de", "next": "/accounts/login/"})
    assert RU_SITE_TITLE in client.get("/accounts/login/").content.decode()


# --- the catalogue -----------------------------------------------------------------------------


def test_catalogue_header_has_russian_plural_forms():
    header = next(e for e in read_po(PO_PATH) if e["msgid"] == "")
    text = header["msgstr"]["msgstr"]
    assert "Language: ru\n" in text
    assert "nplurals=3;" in text
    assert "fuzzy" not in header["flags"]


def test_every_catalogue_entry_is_translated():
    entries = read_po(PO_PATH)
    assert len([e for e in entries if e["msgid"]]) > 500
    missing = untranslated(entries)
    assert not missing, f"{len(missing)} untranslated or fuzzy entries in {PO_PATH}: {missing}"


def test_placeholders_survive_translation():
    placeholder = re.compile(r"%\(\w+\)[sdf]|%[sd]|%%|\{\w+\}")
    wrong = []
    for e in read_po(PO_PATH):
        if not e["msgid"] or e["obsolete"] or "no-python-format" in e["flags"]:
            continue
        source = sorted(set(placeholder.findall(e.get("msgid_plural", e["msgid"]))))
        for text in e["msgstr"].values():
            if sorted(set(placeholder.findall(text))) != source:
                wrong.append((e["msgid"], text))
    assert not wrong


def test_compiled_catalogue_matches_the_po():
    """The committed .mo is compiled from the committed .po (nobody forgot compilemessages)."""
    with MO_PATH.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in read_po(PO_PATH):
        if not e["msgid"] or e["obsolete"]:
            continue
        ctx = e.get("msgctxt")
        if "msgid_plural" in e:
            got = [
                compiled.npgettext(ctx, e["msgid"], e["msgid_plural"], n)
                if ctx is not None
                else compiled.ngettext(e["msgid"], e["msgid_plural"], n)
                for n in (1, 2, 5)
            ]
            want = [e["msgstr"][f"msgstr[{i}]"] for i in range(3)]
        elif ctx is not None:  # a context (case, gender) keeps same-spelled entries apart
            got, want = compiled.pgettext(ctx, e["msgid"]), e["msgstr"]["msgstr"]
        else:
            got, want = compiled.gettext(e["msgid"]), e["msgstr"]["msgstr"]
        if got != want:
            stale.append(e["msgid"])
    assert not stale, f"run compilemessages: {stale[:10]}"


class _ScratchMakeMessages(makemessages.Command):
    """makemessages that writes only to the first LOCALE_PATHS entry (a scratch directory).

    Plain makemessages run from the project root assigns every project file to the
    project's own locale/ and would rewrite the committed catalogue."""

    def find_files(self, root):
        files = super().find_files(root)
        for translatable in files:
            translatable.locale_dir = self.default_locale_path
        return files


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs gettext tools (xgettext)")
def test_every_source_string_is_in_the_catalogue(tmp_path, monkeypatch, settings):
    """Extract the strings from the code as it is now (into a scratch copy of the catalogue)
    and require each to have a translation in the committed catalogue: a new or reworded UI
    string without a Russian translation fails here."""
    before = PO_PATH.read_bytes()
    scratch = tmp_path / "ru" / "LC_MESSAGES" / "django.po"
    scratch.parent.mkdir(parents=True)
    shutil.copy(PO_PATH, scratch)
    settings.LOCALE_PATHS = [tmp_path]
    monkeypatch.chdir(settings.BASE_DIR)
    call_command(
        _ScratchMakeMessages(),
        locale=["ru"],
        ignore_patterns=[
            ".venv",
            "bench",
            "tests",
            "staticfiles",
            "media",
            "node_modules",
            "locale",
        ],
        no_location=True,
        no_obsolete=True,
        verbosity=0,
    )
    assert PO_PATH.read_bytes() == before, "the committed catalogue must not be touched"
    committed = {e["msgid"]: e for e in read_po(PO_PATH) if not e["obsolete"]}
    extracted = [e["msgid"] for e in read_po(scratch) if e["msgid"] and not e["obsolete"]]
    assert len(extracted) > 500
    missing = [m for m in extracted if m not in committed or untranslated([committed[m]])]
    assert not missing, (
        f"{len(missing)} UI strings have no Russian translation yet: {missing}. "
        "Run makemessages -l ru, translate them in locale/ru/LC_MESSAGES/django.po, "
        "then compilemessages."
    )


# --- formatting in Russian -------------------------------------------------------------------


def test_tier_ladder_message_formats_in_russian():
    tiers = [
        TierSpec("Базовый", Decimal(5), Decimal(20), Decimal(0)),
        TierSpec("Серебро", Decimal(3), Decimal(20), Decimal(10000)),
    ]
    with translation.override("ru"):
        errors = validate_tier_ladder(tiers)
    assert errors == [
        "У уровня «Серебро» кешбэк (3%) меньше, чем у нижестоящего уровня «Базовый» (5%). "
        "Кешбэк не должен уменьшаться при переходе на более высокий уровень."
    ]
    with translation.override("en"):
        assert validate_tier_ladder(tiers)[0].startswith("Tier “Серебро” has less cashback (3%)")


def test_out_of_range_message_names_the_field_in_russian():
    tiers = [TierSpec("Базовый", Decimal(120), Decimal(20), Decimal(0))]
    with translation.override("ru"):
        errors = validate_tier_ladder(tiers)
    assert errors == ["Уровень «Базовый»: значение «кешбэк» должно быть от 0 до 100%."]


def test_russian_plural_forms():
    from django.utils.translation import ngettext

    with translation.override("ru"):
        forms = {
            n: ngettext("%(n)s month", "%(n)s months", n) % {"n": n} for n in (1, 3, 5, 11, 21, 22)
        }
    assert forms == {
        1: "1 месяц",
        3: "3 месяца",
        5: "5 месяцев",
        11: "11 месяцев",
        21: "21 месяц",
        22: "22 месяца",
    }


# --- the admin theme ---------------------------------------------------------------------------

VENDOR_DIR = LOCALE_DIR / "_vendor"
VENDOR_PO = VENDOR_DIR / "ru" / "LC_MESSAGES" / "django.po"


def test_admin_theme_catalogue_is_complete_and_compiled():
    entries = read_po(VENDOR_PO)
    assert not untranslated(entries)
    with (VENDOR_PO.parent / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    assert compiled.gettext("Apply Filters") == "Применить фильтры"
    assert (
        compiled.ngettext(
            "\n                Found %(counter)s result in %(time)s seconds\n            ",
            "\n                Found %(counter)s results in %(time)s seconds\n            ",
            3,
        ).strip()
        == "Найдено %(counter)s результата за %(time)s с"
    )


@pytest.mark.django_db
def test_admin_theme_is_russian_with_the_vendor_catalogue(client, settings):
    """django-unfold ships no Russian; locale/_vendor supplies it once it is in LOCALE_PATHS."""
    if VENDOR_DIR not in map(Path, settings.LOCALE_PATHS):
        settings.LOCALE_PATHS = [*settings.LOCALE_PATHS, VENDOR_DIR]
    html = client.get("/admin/login/").content.decode()
    assert "Добро пожаловать" in html
    assert "Welcome back to" not in html
