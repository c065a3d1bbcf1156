"""The lists' cells, links, dates and filter menus, drawn once per page, are what the stock
django-tables2 and Django code would draw cell by cell."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.db.models import Value
from django.template import Context, Template
from django.utils import dateformat

from oms.pagination import FastPaginator
from oms.tables import date_text, record_url
from orders.models import Channel, Order
from orders.tables import OrderTable
from tests.factories import CustomerFactory, OrderFactory, ReturnFactory

FORMATS = [
    "d M Y",
    "d M Y H:i",
    "d-m-Y H:i:s",
    "j F Y",
    r"\W\e\e\k W, D",
    r"jS \o\f F",
    "N j, Y, P",
]


@pytest.mark.parametrize("format_string", FORMATS)
def test_date_text_writes_what_djangos_date_format_writes(format_string):
    moment = datetime(2026, 3, 9, 14, 5, 7, tzinfo=ZoneInfo("Europe/Amsterdam"))
    assert date_text(moment, format_string) == dateformat.format(moment, format_string)
    if "H" not in format_string and "P" not in format_string:
        assert date_text(moment.date(), format_string) == dateformat.format(
            moment.date(), format_string
        )


def test_date_text_refuses_a_time_of_a_date_as_django_does():
    with pytest.raises(TypeError):
        date_text(date(2026, 3, 9), "d M Y H:i")


@pytest.mark.django_db
def test_record_url_is_the_records_own_address(retailer):
    order = OrderFactory(retailer=retailer)
    customer = CustomerFactory(retailer=retailer)
    returned = ReturnFactory(retailer=retailer, order=order)
    assert record_url("orders:order_detail")(order) == order.get_absolute_url()
    assert record_url("customers:customer_detail")(customer) == customer.get_absolute_url()
    assert record_url("returns:return_detail")(returned) == returned.get_absolute_url()


class Shades(forms.Form):
    shade = forms.MultipleChoiceField(
        choices=[("red", "Red"), ("green", "Green <b>"), ("blue", "Blue")], required=False
    )


MENU = Template(
    "{% load filter_menus %}{% for value, label, selected in field|menu_options %}"
    "{{ value }}|{{ label }}|{{ selected }};{% endfor %}"
)
SUBWIDGETS = Template(
    "{% for choice in field %}"
    "{{ choice.data.value }}|{{ choice.choice_label }}|{{ choice.data.selected }};{% endfor %}"
)


@pytest.mark.parametrize("data", [{}, {"shade": ["green"]}, {"shade": ["red", "blue", "pink"]}])
def test_a_filter_menu_offers_what_the_fields_widget_offers(data):
    field = Shades(data)["shade"]
    menu = MENU.render(Context({"field": field}))
    assert menu == SUBWIDGETS.render(Context({"field": field}))
    assert menu.count("True") == len(set(data.get("shade", [])) - {"pink"})


@pytest.mark.django_db
def test_a_rows_cells_read_labels_and_related_fields_as_the_accessor_does(retailer):
    customer = CustomerFactory(retailer=retailer, first_name="Jan", last_name="Smit")
    OrderFactory(retailer=retailer, ref="CELL-1", customer=customer, channel=Channel.MARKETPLACE)
    table = OrderTable(Order.objects.with_list_columns())
    table.paginate(per_page=10)
    body = table.body_html()
    assert "Marketplace" in body  # the choice's label, not its value
    assert "Jan Smit" in body
    assert f'<a hx-boost="false" href="/orders/{Order.objects.get().pk}/">CELL-1</a>' in body


@pytest.mark.django_db
def test_only_the_pages_rows_get_what_rows_of_adds(retailer):
    for n in range(5):
        OrderFactory(retailer=retailer, ref=f"PAGE-{n}")
    orders = Order.objects.order_by("ref")

    def flagged(queryset):
        return queryset.annotate(flagged=Value(1))

    paginator = FastPaginator(orders, 2, rows_of=flagged)
    assert paginator.count == 5
    first, deep = paginator.page(1), paginator.page(3)
    assert [order.ref for order in first] == ["PAGE-0", "PAGE-1"]
    assert [order.ref for order in deep] == ["PAGE-4"]
    assert all(order.flagged == 1 for order in [*first, *deep])
