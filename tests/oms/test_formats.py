"""One money format, one duration format, dates in the retailer's style, CSV times in a named
zone: the functions every page, table, export and document goes through."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.template import Context, Template
from django.utils import timezone

from oms import datestyle
from oms.activity import describe, record
from oms.bounds import LocalDateField, LocalDateTimeField
from oms.exports import csv_bytes, moment
from oms.filters import LocalDateRangeFilter
from oms.templatetags.dates import age, duration, house_format
from oms.templatetags.money import format_money

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


# --- money -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("24.95"), "EUR", "€24.95"),
        (Decimal("7.9"), "EUR", "€7.90"),
        ("189", "GBP", "£189.00"),
        (Decimal("0"), "EUR", "€0.00"),
        (Decimal("-7.90"), "EUR", "−€7.90"),
        (Decimal("1234567.5"), "USD", "$1,234,567.50"),
        (Decimal("9999999999.99"), "EUR", "€9,999,999,999.99"),
        (Decimal("1234.5"), "SEK", "SEK 1,234.50"),
        (Decimal("12"), "sek", "SEK 12.00"),
        (Decimal("12"), "", "12.00"),
        (Decimal("12"), None, "12.00"),
        (None, "EUR", ""),
        ("", "EUR", ""),
        ("not an amount", "EUR", "not an amount"),
        ("NaN", "EUR", "NaN"),
    ],
)
def test_money_has_one_format_with_its_currency(amount, currency, shown):
    assert format_money(amount, currency) == shown


def test_the_money_filter_is_format_money():
    html = Template("{% load money %}{{ a|money:'EUR' }}").render(Context({"a": Decimal("1000")}))
    assert html == "€1,000.00"


@pytest.mark.django_db
def test_activity_amounts_read_as_money_also_in_older_entries(retailer, manager):
    from orders.events import order_cancelled
    from tests.factories import OrderFactory

    order = OrderFactory(retailer=retailer, currency="EUR")
    entry = order_cancelled(
        order, by=manager, reason="", notify=False, refund=Decimal("7.9"), release=Decimal("0")
    )
    assert "refund €7.90, released €0.00" in describe(entry)
    older = record(
        action="orders.order.cancelled",
        target=order,
        by=manager,
        data={"refund": "7.90 EUR", "release": "0.00 EUR", "reason_text": "", "notify_text": ""},
    )
    assert "refund 7.90 EUR" in describe(older)  # no currency key: left as it was written
    older.data["currency"] = "EUR"
    assert "refund €7.90, released €0.00" in describe(older)


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("span", "shown"),
    [
        (dt.timedelta(days=58, hours=2, minutes=40), "58 d 2 h"),
        (dt.timedelta(hours=3, minutes=5), "3 h 5 min"),
        (dt.timedelta(minutes=4, seconds=59), "4 min"),
        (dt.timedelta(0), "0 min"),
        (dt.timedelta(minutes=-5), "0 min"),
        (dt.timedelta(days=1), "1 d 0 h"),
        (None, ""),
    ],
)
def test_a_span_has_one_format(span, shown):
    assert duration(span) == shown


def test_timesince_timeuntil_and_age_all_write_the_one_format():
    now = timezone.now()
    context = Context(
        {
            "then": now - dt.timedelta(days=51, hours=2, minutes=1),
            "later": now + dt.timedelta(hours=3, minutes=5, seconds=30),
        }
    )
    html = Template("{{ then|timesince }}|{{ then|age }}|{{ later|timeuntil }}").render(context)
    assert html == "51 d 2 h|51 d 2 h|3 h 5 min"
    assert "month" not in html and "week" not in html
    assert age(None) == "" and age("not a moment") == ""
    assert Template("{{ x|timesince }}").render(
        Context({"x": dt.datetime.min.replace(tzinfo=dt.UTC)})
    )


# --- dates in the retailer's style -----------------------------------------------------------


@pytest.mark.parametrize(
    ("languages", "zone", "country", "shown", "placeholder"),
    [
        (["nl", "en"], "Europe/Amsterdam", "", "05-12-2026", "dd-mm-yyyy"),
        (["de"], "Europe/Berlin", "", "05.12.2026", "dd.mm.yyyy"),
        (["en"], "Europe/London", "GB", "05/12/2026", "dd/mm/yyyy"),
        (["en"], "America/New_York", "", "12/05/2026", "mm/dd/yyyy"),
        (["en"], "Europe/Amsterdam", "US", "12/05/2026", "mm/dd/yyyy"),
        (["xx"], "UTC", "", "2026-12-05", "yyyy-mm-dd"),
        ([], "UTC", "", "2026-12-05", "yyyy-mm-dd"),
    ],
)
def test_a_retailer_writes_dates_in_its_locale(languages, zone, country, shown, placeholder):
    style = datestyle.style_of(languages, zone, country)
    assert style.show(dt.date(2026, 12, 5)) == shown
    assert style.placeholder == placeholder
    assert style.parse(shown) == dt.date(2026, 12, 5)
    assert style.parse("2026-12-05") == dt.date(2026, 12, 5)  # ISO is always understood
    assert style.parse("31-31-2026") is None and style.parse("") is None


def test_the_house_formats_follow_the_retailer_and_spelled_out_ones_stay():
    moment_ = dt.datetime(2026, 12, 5, 13, 30, tzinfo=dt.UTC)
    template = Template(
        '{{ m|date:"d M Y H:i" }}|{{ m|date:"d M Y" }}|{{ m|date:"D d M" }}|{{ m|date:"j F Y" }}'
    )
    with timezone.override(AMSTERDAM), datestyle.override(datestyle.style_of(["nl"])):
        assert (
            template.render(Context({"m": moment_}))
            == "05-12-2026 14:30|05-12-2026|Sat 05-12|5 December 2026"
        )
    with timezone.override(AMSTERDAM), datestyle.override(datestyle.style_of(["de"])):
        assert template.render(Context({"m": moment_})).startswith(
            "05.12.2026 14:30|05.12.2026|Sat 05.12"
        )
    # outside a retailer (a document rendered by a worker) the written format stands
    assert house_format("d M Y") == "d M Y"


@pytest.mark.django_db
def test_pages_write_dates_in_the_users_retailer_style(client_for, agent, retailer):
    from tests.factories import OrderFactory

    retailer.languages = ["de"]
    retailer.time_zone = "Europe/Berlin"
    retailer.save()
    order = OrderFactory(
        retailer=retailer, placed_at=dt.datetime(2026, 11, 4, 9, 15, tzinfo=dt.UTC)
    )
    client = client_for(agent)
    listing = client.get("/orders/").content.decode()
    assert "04.11.2026 10:15" in listing
    assert 'placeholder="dd.mm.yyyy"' in listing
    page = client.get(order.get_absolute_url()).content.decode()
    assert "04.11.2026 10:15" in page
    assert "04 Nov 2026" not in page


def test_a_date_field_reads_the_retailer_style_and_iso_and_says_what_it_expects():
    field = LocalDateField()
    with datestyle.override(datestyle.style_of(["nl"])):
        assert field.clean("05-12-2026") == dt.date(2026, 12, 5)
        assert field.clean("2026-12-05") == dt.date(2026, 12, 5)
        with pytest.raises(ValidationError, match="dd-mm-yyyy"):
            field.clean("12/05/2026")
        html = field.widget.render("d", dt.date(2026, 12, 5))
        assert 'type="text"' in html and 'value="05-12-2026"' in html
        assert 'placeholder="dd-mm-yyyy"' in html
    with datestyle.override(datestyle.US):
        assert field.clean("12/05/2026") == dt.date(2026, 12, 5)


def test_a_date_and_time_field_reads_the_retailer_style_and_iso():
    field = LocalDateTimeField()
    with timezone.override(AMSTERDAM), datestyle.override(datestyle.style_of(["de"])):
        assert field.clean("05.12.2026 14:30") == dt.datetime(2026, 12, 5, 14, 30, tzinfo=AMSTERDAM)
        assert field.clean("2026-12-05T14:30") == dt.datetime(2026, 12, 5, 14, 30, tzinfo=AMSTERDAM)


def test_a_date_range_filter_reads_the_retailer_style():
    field = LocalDateRangeFilter(field_name="placed_at").field
    with timezone.override(AMSTERDAM), datestyle.override(datestyle.style_of(["nl"])):
        span = field.clean(["01-12-2026", "05-12-2026"])
    assert span.start == dt.datetime(2026, 12, 1, tzinfo=AMSTERDAM)
    assert span.stop.date() == dt.date(2026, 12, 5)


# --- CSV times -------------------------------------------------------------------------------


def test_csv_times_are_in_the_named_zone():
    rows = [{"at": dt.datetime(2026, 12, 5, 13, 30, tzinfo=dt.UTC)}, {"at": None}]
    columns = [("Placed ({zone})", lambda r: moment(r["at"]))]
    text = csv_bytes(rows, columns, zone=AMSTERDAM).decode()
    assert text.splitlines() == ["\ufeffPlaced (Europe/Amsterdam)", "2026-12-05 14:30", '""']
    with timezone.override(ZoneInfo("Europe/London")):
        assert csv_bytes(rows[:1], columns).decode().splitlines()[1:] == ["2026-12-05 13:30"]
