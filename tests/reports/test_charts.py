"""The dashboard's SVG charts (`reports.charts`): kept per process by what they draw — the
items with their values' types, the title, the suffix and the language — and the same markup
as drawn afresh; labels escaped."""

from decimal import Decimal as D

from django.utils import translation

from reports.charts import column_chart, hbar_chart


def drawn(chart, items, **kw):
    """The chart as drawn without the kept copies."""
    return chart.__wrapped__(items, kw.get("title", ""), kw.get("suffix", ""))


def test_a_kept_chart_is_the_one_drawn_afresh_and_drawn_once():
    items = [("01.25", D("1234.50")), ("02.25", 7), ("03.25", None)]
    for chart in (column_chart, hbar_chart):
        chart.kept.cache_clear()
        with translation.override("en"):
            first = chart(items, title="Revenue", suffix="%")
            again = chart(list(items), title="Revenue", suffix="%")
            assert first == again == drawn(chart, items, title="Revenue", suffix="%")
        info = chart.kept.cache_info()
        assert (info.hits, info.misses) == (1, 1)


def test_what_changes_the_drawing_changes_the_key():
    with translation.override("en"):
        whole, decimal = hbar_chart([("a", 1)]), hbar_chart([("a", D(1))])
        assert ">1<" in whole and ">1.00<" in decimal  # 1 == Decimal(1), drawn differently
        english = column_chart([("01.25", D("12345"))], title="t")
        assert column_chart([("01.25", D("12346"))], title="t") != english
        assert column_chart([("01.25", D("12345"))], title="u") != english
    with translation.override("ru"):
        russian = column_chart([("01.25", D("12345"))], title="t")
    assert "12,345" in english and "12\xa0345" in russian


def test_labels_are_escaped():
    chart = hbar_chart([("<script>alert(1)</script>", 3)], title='"quoted"')
    assert "<script>" not in chart and "&lt;script&gt;" in chart and "&quot;quoted&quot;" in chart
