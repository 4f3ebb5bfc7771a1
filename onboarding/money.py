"""The one rounding rule for money and points.

Money and points are Decimal with two places. Every computed amount (cashback, caps,
referral percentages, proportional refunds) is rounded half-up to 0.01 by `q()`;
nothing is ever a float.
"""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def q(value) -> Decimal:
    """Round to 0.01, half up."""
    if type(value) is not Decimal:  # a Decimal is used as it is (the hot path)
        value = Decimal(value)
    return value.quantize(CENT, ROUND_HALF_UP)


def q_down(value) -> Decimal:
    """Round toward zero to 0.01 — for caps, so a cap is never exceeded by rounding."""
    if type(value) is not Decimal:
        value = Decimal(value)
    return value.quantize(CENT, ROUND_DOWN)


def percent_of(amount, percent) -> Decimal:
    """`percent`% of `amount`, rounded by the one rule."""
    return q(Decimal(amount) * Decimal(percent) / HUNDRED)


# --- How a person reads money and points ------------------------------------------------------
# One formatting rule for every page, export preview and message: the active language's
# grouping and decimal mark (Django's locale formats: "6 362 191,46" in Russian with a no-break
# space, "6,362,191.46" in English) and the currency's sign instead of its ISO code.

NBSP = "\u00a0"
CURRENCY_SYMBOLS = {
    "RUB": "₽",
    "KZT": "₸",
    "GEL": "₾",
    "BYN": "Br",
    "UZS": "сўм",
    "KGS": "⃀",
    "AMD": "֏",
    "AZN": "₼",
    "UAH": "₴",
    "TRY": "₺",
    "AED": "AED",
    "USD": "$",
    "EUR": "€",
}


def currency_symbol(code: str | None) -> str:
    """The sign a person recognises for an ISO 4217 code (the code itself when it has none)."""
    if not code:
        return ""
    return CURRENCY_SYMBOLS.get(code.upper(), code.upper())


def format_number(value, *, decimal_places: int | None = None) -> str:
    """`value` grouped by thousands with the active language's separators. `decimal_places`
    None keeps two places only when the value has a fraction ("3 000", "12,50")."""
    from django.utils.formats import get_format, number_format
    from django.utils.translation import get_language

    if value is None or value == "":
        return "—"
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if decimal_places is None:
        decimal_places = 0 if number == number.to_integral_value() else 2
    exponent = Decimal(1).scaleb(-decimal_places)
    number = number.quantize(exponent, rounding=ROUND_HALF_UP)
    lang = get_language()  # once: each look-up of the active language is a context-local read
    if get_format("NUMBER_GROUPING", lang) != 3:  # not groups of three: Django's general rule
        return number_format(number, decimal_places, use_l10n=True, force_grouping=True)
    # groups of three (both our languages): Python's own grouping with the language's marks —
    # the text of `number_format` at a third of its cost (a page of tables formats hundreds)
    marks = {
        ",": get_format("THOUSAND_SEPARATOR", lang),
        ".": get_format("DECIMAL_SEPARATOR", lang),
    }
    text = f"{number or abs(number):,.{decimal_places}f}"  # a zero is never "-0"
    return text.translate(str.maketrans(marks))


def format_money(amount, currency: str | None, *, decimal_places: int = 2) -> str:
    """Money as a person reads it: "6 362 191,46 ₽" in Russian, "₽6,362,191.46" in English.
    The sign's place comes from the catalogue (`{amount}`/`{symbol}`), a minus leads."""
    from django.utils.translation import pgettext

    if amount is None or amount == "":
        return "—"
    number = Decimal(str(amount)) if isinstance(amount, float) else Decimal(amount)
    text = format_number(abs(number), decimal_places=decimal_places)
    symbol = currency_symbol(currency)
    if symbol:
        # Translators: where the currency sign goes; keep {amount} and {symbol}.
        pattern = pgettext("money format", "{symbol}{amount}").replace(" ", NBSP)  # never wrap
        text = pattern.format(symbol=symbol, amount=text)
    return f"-{text}" if number < 0 else text


def format_points(value) -> str:
    """Points grouped by thousands, whole when whole: "3 000", "12,50"."""
    return format_number(value)


def points_label(value) -> str:
    """Points with the noun in the right plural form: "1 балл", "3 000 баллов", "2,5 балла"."""
    from django.utils.translation import ngettext

    if value is None or value == "":
        return "—"
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    # A fractional count takes the "few" form in Russian ("2,5 балла"); 2 selects it.
    count = int(number) if number == number.to_integral_value() else 2
    return ngettext("%(points)s point", "%(points)s points", abs(count)) % {
        "points": format_points(number)
    }
