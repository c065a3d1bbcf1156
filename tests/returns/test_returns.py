"""The returns desk: creating returns, moving parcels, and the three refund paths."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services as billing
from billing.models import Invoice, PaymentTransaction
from oms.models import Activity
from orders import services as order_services
from orders.models import ShipmentStatus, SystemState
from returns import services
from returns.models import Return, ReturnFulfilment, ReturnStatus, ReturnType
from tests.factories import OrderFactory, OrderLineFactory, PaymentFactory, ReturnFactory, ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(retailer, manager):
    order = OrderFactory(retailer=retailer, ref="ACME-7001", state=SystemState.COMPLETED)
    OrderLineFactory(
        order=order, sku="JKT", name="Jacket", quantity=2, unit_price=Decimal("121.00")
    )
    OrderLineFactory(order=order, sku="CAP", name="Cap", quantity=1, unit_price=Decimal("24.20"))
    from tests.factories import recalculate_totals

    recalculate_totals(order)
    ship(order)  # completed: everything shipped
    PaymentFactory(
        order=order, authorised=order.total, captured=order.total, provider_reference="psp_7001"
    )
    billing.invoice_create(order=order, by=manager)
    return order


def _create_from_page(client, order, **choices):
    jacket, cap = order.lines.order_by("position", "pk")
    data = {
        f"qty_{jacket.pk}": "1",
        f"reason_{jacket.pk}": "DAMAGED",
        f"condition_{jacket.pk}": "2",
        f"qty_{cap.pk}": "0",
        "fulfilment_type": "R_RTDC",
        "preferred_location_ref": "DC-UTRECHT",
    }
    data.update(choices)
    return client.post(reverse("orders:return_create", args=[order.pk]), data)


def test_an_agent_creates_a_return_from_the_order(client_for, agent, paid_order):
    response = _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    assert response.status_code == 302 and response["Location"] == ret.get_absolute_url()
    assert (ret.type, ret.status, ret.order) == (ReturnType.CUSTOMER_RETURN, "BOOKED", paid_order)
    (item,) = ret.items.all()
    assert (item.sku_ref, item.quantity, item.reason.label, item.condition.label) == (
        "JKT",
        1,
        "Damaged",
        "Damaged",
    )
    assert (item.sku_price, item.sku_tax_price, item.tax_type) == (
        Decimal("100.00"),
        Decimal("21.00"),
        "VAT",
    )
    assert item.action.code == "REFUND"  # the reason's default action
    assert ret.total_return_price == Decimal("121.00")
    (parcel,) = ret.fulfilments.all()
    assert (parcel.type, parcel.status, parcel.to_location) == ("R_RTDC", "CREATED", "DC-UTRECHT")
    timeline = client_for(agent).get(reverse("orders:order_tab", args=[paid_order.pk, "activity"]))
    assert "Customer return" in timeline.content.decode()


def test_two_units_become_two_items_of_one(client_for, agent, paid_order):
    jacket = paid_order.lines.get(sku="JKT")
    _create_from_page(client_for(agent), paid_order, **{f"qty_{jacket.pk}": "2"})
    assert list(Return.objects.get().items.values_list("quantity", flat=True)) == [1, 1]


def test_never_more_than_ordered_minus_returned(client_for, agent, paid_order):
    client = client_for(agent)
    jacket = paid_order.lines.get(sku="JKT")
    _create_from_page(client, paid_order, **{f"qty_{jacket.pk}": "2"})
    response = _create_from_page(client, paid_order, **{f"qty_{jacket.pk}": "1"})
    assert response.status_code == 400
    assert "only 0 of 2 ordered can still be returned" in response.content.decode()
    assert Return.objects.count() == 1


def test_refund_on_receipt_runs_by_itself_and_completes_with_a_credit_note(
    manager, agent, paid_order, client_for, django_capture_on_commit_callbacks
):
    _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    parcel = ret.fulfilments.get()
    client = client_for(manager)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("returns:fulfilment_move", args=[ret.pk, parcel.pk]), {"status": "ARRIVED"}
        )

    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETE
    refund = PaymentTransaction.objects.get(kind="refund")
    assert (refund.status, refund.amount, refund.return_request) == (
        "succeeded",
        Decimal("121.00"),
        ret,
    )
    note = ret.credit_note
    assert note.kind == Invoice.Kind.CREDIT_NOTE and note.total == Decimal("121.00")
    assert [line["quantity"] for line in note.lines] == [1]
    actions = set(Activity.objects.values_list("action", flat=True))
    assert {
        "returns.returnfulfilment.status_changed",
        "orders.payment.refunded",
        "billing.invoice.created",
    } <= actions
    page = client.get(ret.get_absolute_url()).content.decode()
    assert note.number in page and "Complete" in page

    client.post(
        reverse("returns:fulfilment_move", args=[ret.pk, parcel.pk]), {"status": "COMPLETE"}
    )
    assert ReturnFulfilment.objects.get(pk=parcel.pk).status == "COMPLETE"


def test_a_declined_refund_waits_for_a_manager_who_releases_it_by_hand(
    manager, agent, paid_order, client_for, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_GATEWAY_FAILURE = "decline"
    _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("returns:fulfilment_move", args=[ret.pk, ret.fulfilments.get().pk]),
            {"status": "ARRIVED"},
        )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.PENDING_REFUND
    assert (
        "payment gateway did not refund it" in client.get(ret.get_absolute_url()).content.decode()
    )

    # an agent cannot release it
    response = client_for(agent).post(
        reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "by_hand"}
    )
    assert response.status_code == 403
    client.post(
        reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "by_hand"}
    )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETE and ret.refunded_by_hand
    assert ret.refunded_by_hand_amount == ret.total_return_price > 0
    assert ret.credit_note is not None
    page = client.get(ret.get_absolute_url()).content.decode()
    assert f"{ret.total_return_price} by hand" in page.replace("€", "")


def test_a_pending_refund_can_go_through_the_gateway_again(
    manager, agent, paid_order, client_for, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_GATEWAY_FAILURE = "decline"
    _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    client = client_for(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("returns:fulfilment_move", args=[ret.pk, ret.fulfilments.get().pk]),
            {"status": "ARRIVED"},
        )
    settings.SIMULATED_GATEWAY_FAILURE = ""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("returns:release_refund", args=[ret.pk]), {"confirm": "yes", "how": "gateway"}
        )
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.COMPLETE and not ret.refunded_by_hand


def test_without_a_single_gateway_tender_the_refund_is_pending_at_once(
    manager, agent, paid_order, client_for, django_capture_on_commit_callbacks
):
    PaymentFactory(
        order=paid_order, method="gift_card", authorised=Decimal("5.00"), captured=Decimal("5.00")
    )  # a second tender
    _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_fulfilment_move(fulfilment=ret.fulfilments.get(), to="ARRIVED", by=manager)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.PENDING_REFUND
    assert not PaymentTransaction.objects.filter(kind="refund").exists()


def test_cancelling_a_paid_order_makes_a_cancellation_return(
    manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)
    ret = Return.objects.get(order=order)
    assert ret.type == ReturnType.CANCELLATION and ret.status == ReturnStatus.COMPLETE
    assert ret.total_return_price == order.total
    assert ret.refunds.get().status == "succeeded"


def test_cancelling_items_that_cannot_be_fulfilled_refunds_them(
    client_for, manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING)
    keep = OrderLineFactory(order=order, sku="KEEP", unit_price=Decimal("10.00"))
    gone = OrderLineFactory(order=order, sku="GONE", quantity=2, unit_price=Decimal("12.10"))
    from tests.factories import recalculate_totals

    recalculate_totals(order)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            reverse("orders:lines_cancel", args=[order.pk]), {"lines": [gone.pk], "confirm": "yes"}
        )
    gone.refresh_from_db()
    keep.refresh_from_db()
    assert gone.shipment_status == ShipmentStatus.CANCELLED
    assert keep.shipment_status == ShipmentStatus.PENDING
    ret = Return.objects.get()
    assert ret.type == ReturnType.CANNOT_FULFIL and ret.status == ReturnStatus.COMPLETE
    assert ret.total_return_price == Decimal("24.20")
    assert order.payments.get().refunded == Decimal("24.20")


def _refs(response):
    return re.findall(r'<a hx-boost="false" href="/returns/(\d+)/">', response.content.decode())


def test_the_returns_list_search_filters_and_csv(client_for, agent, retailer, other_retailer):
    mine = ReturnFactory(
        retailer=retailer, order=OrderFactory(retailer=retailer, ref="R-1", lines=1)
    )
    other = ReturnFactory(retailer=retailer, type="CANCELLATION", status="COMPLETE")
    ReturnFactory(retailer=other_retailer)
    client = client_for(agent)
    url = reverse("returns:return_list")
    assert set(_refs(client.get(url))) == {str(mine.pk), str(other.pk)}
    assert _refs(client.get(url, {"q": "R-1"})) == [str(mine.pk)]
    assert _refs(client.get(url, {"q": str(other.pk)})) == [str(other.pk)]
    assert _refs(client.get(url, {"type": ["CANCELLATION"], "status": ["COMPLETE"]})) == [
        str(other.pk)
    ]
    csv = b"".join(client.get(reverse("returns:return_export_csv"), {"q": "R-1"}).streaming_content)
    lines = csv.decode("utf-8-sig").strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{mine.pk},")


def test_admins_configure_reasons_actions_and_conditions(client_for, admin_user, agent, retailer):
    from returns.models import ReturnAction, ReturnReason

    assert client_for(agent).get(reverse("return_config:reasons")).status_code == 403
    client = client_for(admin_user)
    store_credit = ReturnAction.objects.get(retailer=retailer, code="STORE_CREDIT")
    client.post(
        reverse("return_config:reasons"),
        {"retailer": retailer.pk, "label": "Arrived late", "default_action": store_credit.pk},
    )
    reason = ReturnReason.objects.get(retailer=retailer, code="ARRIVED-LATE")
    assert reason.default_action == store_credit
    client.post(reverse("return_config:toggle", args=["reasons", reason.pk]))
    reason.refresh_from_db()
    assert not reason.is_active
    order = OrderFactory(retailer=retailer, lines=1)
    page = client.get(reverse("orders:return_create", args=[order.pk])).content.decode()
    assert ">Arrived late<" not in page and ">Damaged<" in page
    client.post(
        reverse("return_config:actions"),
        {"retailer": retailer.pk, "label": "Repair", "kind": "exchange", "timing": "on_approval"},
    )
    assert ReturnAction.objects.get(retailer=retailer, code="REPAIR").timing == "on_approval"


def test_an_agents_refund_on_approval_waits_for_a_manager(client_for, agent, paid_order):
    from returns.models import ReturnAction

    ReturnAction.objects.filter(retailer=paid_order.retailer, code="REFUND").update(
        timing="on_approval"
    )
    refund_action = ReturnAction.objects.get(retailer=paid_order.retailer, code="REFUND")
    _create_from_page(client_for(agent), paid_order, action=str(refund_action.pk))
    ret = Return.objects.get()
    assert ret.status == ReturnStatus.PENDING_REFUND
    assert not PaymentTransaction.objects.filter(kind="refund").exists()


def test_a_price_above_what_was_paid_is_capped(manager, paid_order):
    data = services.ReturnInput(
        retailer_id=paid_order.retailer_id,
        type="CANNOT_FULFIL",
        order=paid_order,
        customer=services.CustomerInput(email="x@example.com"),
        items=[services.ItemInput(sku_ref="JKT", quantity=1, sku_price=Decimal("9999.00"))],
    )
    ret = services.return_create(data=data, by=manager)
    assert ret.items.get().sku_price == Decimal("100.00")


def test_a_timed_out_refund_keeps_the_return_lodged_and_blocks_release(
    manager, agent, paid_order, client_for, settings, django_capture_on_commit_callbacks
):
    settings.SIMULATED_GATEWAY_FAILURE = "timeout"
    _create_from_page(client_for(agent), paid_order)
    ret = Return.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.return_fulfilment_move(fulfilment=ret.fulfilments.get(), to="ARRIVED", by=manager)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.LODGED
    assert ret.refunds.get().error_code == "unavailable"
    from oms.state import InvalidTransition

    Return.objects.filter(pk=ret.pk).update(status="PENDING_REFUND")
    with pytest.raises(InvalidTransition, match="on its way or timed out"):
        services.return_release_refund(ret=ret, by=manager, by_hand=True)


def test_a_paid_order_whose_items_are_all_returned_can_still_be_cancelled(
    manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=1)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    ReturnFactory(retailer=retailer, order=order)  # its only item is on a return
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)
    assert Return.objects.filter(order=order, type=ReturnType.CANCELLATION).exists()


def test_a_returned_unit_is_never_refunded_above_what_it_cost(manager, retailer):
    # given two mugs at 10.00, whose line tax (3.47) does not split into whole cents per unit
    order = OrderFactory(retailer=retailer, state=SystemState.COMPLETED)
    OrderLineFactory(order=order, sku="MUG", quantity=2, unit_price=Decimal("10.00"))
    from tests.factories import recalculate_totals

    recalculate_totals(order)
    ship(order)

    # when both are returned
    ret = services.return_create(
        data=services.ReturnInput(
            retailer_id=retailer.pk,
            type=ReturnType.CUSTOMER_RETURN,
            order=order,
            customer=services.CustomerInput(email="x@example.com"),
            items=[services.ItemInput(sku_ref="MUG"), services.ItemInput(sku_ref="MUG")],
        ),
        by=manager,
    )

    # then each gives back the 10.00 it cost, not 8.27 + 1.74 = 10.01
    assert [item.refund_amount for item in ret.items.all()] == [Decimal("10.00")] * 2
    assert ret.total_return_price == Decimal("20.00")


def _shipped_order(retailer, ref):
    order = OrderFactory(retailer=retailer, ref=ref, state=SystemState.COMPLETED)
    OrderLineFactory(order=order, sku="JKT", name="Jacket", quantity=2, unit_price=Decimal("121"))
    OrderLineFactory(order=order, sku="CAP", name="Cap", quantity=1, unit_price=Decimal("24.20"))
    ship(order)
    return order


def test_returns_made_on_the_page_get_refs_to_read_out(client_for, agent, paid_order):
    client = client_for(agent)
    first = client.get(_create_from_page(client, paid_order)["Location"], follow=True)
    _create_from_page(client, paid_order)
    refs = list(Return.objects.order_by("pk").values_list("return_ref", flat=True))
    assert refs == ["ACM-R00001", "ACM-R00002"]
    page = first.content.decode()
    assert "Return ACM-R00001 created" in page
    listing = client.get(reverse("returns:return_list")).content.decode()
    assert "ACM-R00001" in listing and "ACM-R00002" in listing


def test_each_retailer_numbers_its_own_returns(
    client_for, agent, other_agent, paid_order, other_retailer
):
    _create_from_page(client_for(agent), paid_order)
    _create_from_page(client_for(other_agent), _shipped_order(other_retailer, "GLO-1"))
    _create_from_page(client_for(agent), paid_order)
    assert sorted(Return.objects.values_list("return_ref", flat=True)) == [
        "ACM-R00001",
        "ACM-R00002",
        "GLO-R00001",
    ]


def test_a_ref_taken_through_the_api_is_passed_over_and_kept(client_for, agent, paid_order):
    ReturnFactory(retailer=paid_order.retailer, order=paid_order, return_ref="ACM-R00001")
    _create_from_page(client_for(agent), paid_order)
    assert set(Return.objects.values_list("return_ref", flat=True)) == {
        "ACM-R00001",
        "ACM-R00002",
    }


def test_returns_the_system_makes_are_numbered_too(
    manager, retailer, django_capture_on_commit_callbacks
):
    order = OrderFactory(retailer=retailer, state=SystemState.PROCESSING, lines=2)
    PaymentFactory(order=order, authorised=order.total, captured=order.total)
    with django_capture_on_commit_callbacks(execute=True):
        order_services.order_cancel(order=order, by=manager, notify=False)
    assert Return.objects.get(order=order).return_ref == "ACM-R00001"
