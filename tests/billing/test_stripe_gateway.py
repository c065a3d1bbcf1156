"""The Stripe adapter against a local server answering as Stripe's API does: each operation in
full and in part, Stripe's errors as ours, and one money movement per idempotency key."""

# ruff: noqa: F811 (the fake_stripe fixture is imported, then asked for by name)
from decimal import Decimal

import pytest

from billing.gateway import Declined, GatewayBalance, GatewayError, Unavailable, gateway_for
from billing.stripe_gateway import StripeGateway, from_minor, to_minor
from tests.billing.fake_stripe import fake_stripe  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_stripe")


@pytest.fixture
def gateway():
    return StripeGateway()


def _authorised(gateway, amount="100.00", currency="EUR", key="auth-1") -> str:
    return gateway.authorise(
        amount=Decimal(amount), currency=currency, idempotency_key=key
    ).reference


def _op(kind, gateway, reference, amount, key, currency="EUR"):
    return getattr(gateway, kind)(
        payment_reference=reference,
        amount=Decimal(amount),
        currency=currency,
        idempotency_key=key,
    )


def test_authorise_holds_the_amount_on_a_manual_capture_payment_intent(gateway, fake_stripe):
    # when
    reference = _authorised(gateway, "100.00")
    # then
    intent = fake_stripe.intents[reference]
    assert reference.startswith("pi_")
    assert intent["capture_method"] == "manual"
    assert intent["status"] == "requires_capture"
    assert intent["amount"] == 10000 and intent["amount_capturable"] == 10000
    method, path, params, key = fake_stripe.requests[-1]
    assert (method, path, key) == ("POST", "/v1/payment_intents", "auth-1")
    assert params["confirm"] == "true"
    assert gateway.balance(payment_reference=reference).captured == Decimal("0.00")


def test_a_declined_card_is_a_decline(gateway, fake_stripe):
    with pytest.raises(Declined, match="declined"):
        gateway.authorise(
            amount=Decimal("10.00"),
            currency="EUR",
            idempotency_key="auth-declined",
            payment_method="pm_card_chargeDeclined",
        )
    assert fake_stripe.moved() == []


def test_a_full_capture_moves_everything_once(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    # when
    result = _op("capture", gateway, reference, "100.00", "cap-1")
    # then
    assert result.reference == fake_stripe.intents[reference]["latest_charge"]
    assert [m["amount"] for m in fake_stripe.moved("capture")] == [10000]
    assert fake_stripe.intents[reference]["status"] == "succeeded"
    assert gateway.balance(payment_reference=reference).captured == Decimal("100.00")


def test_partial_captures_keep_the_rest_authorised_until_it_is_released(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    # when
    _op("capture", gateway, reference, "30.00", "cap-1")
    _op("capture", gateway, reference, "20.00", "cap-2")
    # then
    intent = fake_stripe.intents[reference]
    assert intent["status"] == "requires_capture" and intent["amount_capturable"] == 5000
    captures = [p for _, path, p, _ in fake_stripe.requests if path.endswith("/capture")]
    assert [c["final_capture"] for c in captures] == ["false", "false"]
    assert captures[0]["metadata"] == {"oms_operation": "cap-1"}
    # when the rest is released
    _op("void", gateway, reference, "50.00", "void-1")
    # then
    assert fake_stripe.intents[reference]["status"] == "canceled"
    assert gateway.balance(payment_reference=reference) == _balance("50.00", "0.00", "50.00")
    assert [m["amount"] for m in fake_stripe.moved("release")] == [5000]


def test_without_multicapture_a_partial_capture_releases_the_rest(gateway, fake_stripe):
    fake_stripe.multicapture = False
    reference = _authorised(gateway, "100.00")
    # when
    _op("capture", gateway, reference, "30.00", "cap-1")
    # then: Stripe released the rest; a release after it finds nothing left and says so
    capture = next(p for _, path, p, _ in fake_stripe.requests if path.endswith("/capture"))
    assert "final_capture" not in capture
    assert gateway.balance(payment_reference=reference) == _balance("30.00", "0.00", "70.00")
    assert _op("void", gateway, reference, "70.00", "void-1").reference == reference
    with pytest.raises(GatewayError, match="status of succeeded") as refused:
        _op("capture", gateway, reference, "10.00", "cap-2")
    assert not refused.value.transient


def test_cancel_before_any_capture_releases_everything(gateway, fake_stripe):
    reference = _authorised(gateway, "80.00")
    _op("void", gateway, reference, "80.00", "void-1")
    assert gateway.balance(payment_reference=reference) == _balance("0.00", "0.00", "80.00")


def test_full_and_partial_refunds(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    _op("capture", gateway, reference, "100.00", "cap-1")
    # when
    first = _op("refund", gateway, reference, "25.00", "ref-1")
    second = _op("refund", gateway, reference, "75.00", "ref-2")
    # then
    assert first.reference.startswith("re_") and not first.pending
    assert second.reference != first.reference
    assert [m["amount"] for m in fake_stripe.moved("refund")] == [2500, 7500]
    refund_call = next(p for m, path, p, _ in fake_stripe.requests if path == "/v1/refunds")
    assert refund_call["payment_intent"] == reference
    assert refund_call["metadata"] == {"oms_operation": "ref-1"}
    assert gateway.balance(payment_reference=reference) == _balance("100.00", "100.00", "0.00")
    # more than is left is Stripe's refusal, not retried
    with pytest.raises(GatewayError, match="greater than unrefunded") as refused:
        _op("refund", gateway, reference, "0.01", "ref-3")
    assert not refused.value.transient and not isinstance(refused.value, Declined)


@pytest.mark.parametrize("kind", ["capture", "refund", "void"])
def test_the_same_key_again_replays_the_answer_and_moves_nothing(gateway, fake_stripe, kind):
    reference = _authorised(gateway, "100.00")
    if kind == "refund":
        _op("capture", gateway, reference, "100.00", "cap-0")
    moved_before = len(fake_stripe.moved())
    # when
    first = _op(kind, gateway, reference, "40.00", f"{kind}-1")
    again = _op(kind, gateway, reference, "40.00", f"{kind}-1")
    # then
    assert again == first
    assert len(fake_stripe.moved()) == moved_before + 1


def test_the_same_key_with_another_amount_is_refused_not_retried(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    _op("capture", gateway, reference, "40.00", "cap-1")
    with pytest.raises(GatewayError, match="idempotency key") as refused:
        _op("capture", gateway, reference, "41.00", "cap-1")
    assert not refused.value.transient and not isinstance(refused.value, Declined)
    assert len(fake_stripe.moved("capture")) == 1


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (429, "rate_limit_error", "rate_limit"),
        (500, "api_error", ""),
        (503, "api_error", ""),
        (409, "idempotency_error", "idempotency_key_in_use"),
    ],
)
def test_rate_limits_outages_and_a_key_in_use_may_pass(gateway, fake_stripe, status, type_, code):
    reference = _authorised(gateway, "100.00")
    fake_stripe.fail_next(status, type_, code, path="/capture")
    # when
    with pytest.raises(Unavailable) as error:
        _op("capture", gateway, reference, "40.00", "cap-1")
    # then: transient, nothing moved; tried again with the same key it goes through once
    assert error.value.transient
    assert fake_stripe.moved("capture") == []
    _op("capture", gateway, reference, "40.00", "cap-1")
    assert len(fake_stripe.moved("capture")) == 1


def test_a_card_error_at_capture_is_a_decline(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    fake_stripe.fail_next(402, "card_error", "card_declined", path="/capture")
    with pytest.raises(Declined) as error:
        _op("capture", gateway, reference, "40.00", "cap-1")
    assert not error.value.transient and error.value.code == "declined"


def test_an_answer_lost_on_the_way_back_is_found_by_asking_again_with_the_key(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    fake_stripe.lose_next_answer(path="/v1/refunds")
    _op("capture", gateway, reference, "100.00", "cap-1")
    # when: Stripe refunds, the answer never arrives
    with pytest.raises(Unavailable):
        _op("refund", gateway, reference, "30.00", "ref-1")
    # then: the same key again gets the first answer, and the money moved once
    result = _op("refund", gateway, reference, "30.00", "ref-1")
    assert result.reference == fake_stripe.moved("refund")[0]["reference"]
    assert len(fake_stripe.moved("refund")) == 1


def test_a_pending_refund_is_pending_until_stripe_settles_it(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    _op("capture", gateway, reference, "100.00", "cap-1")
    fake_stripe.refund_status = "pending"
    # when
    result = _op("refund", gateway, reference, "30.00", "ref-1")
    # then
    assert result.pending and fake_stripe.moved("refund") == []
    fake_stripe.settle_refund(result.reference, "succeeded")
    again = _op("refund", gateway, reference, "30.00", "ref-1")
    assert again.reference == result.reference and not again.pending


def test_a_refund_that_failed_at_the_bank_is_a_decline(gateway, fake_stripe):
    reference = _authorised(gateway, "100.00")
    _op("capture", gateway, reference, "100.00", "cap-1")
    fake_stripe.refund_status = "pending"
    result = _op("refund", gateway, reference, "30.00", "ref-1")
    fake_stripe.settle_refund(result.reference, "failed", "expired_or_canceled_card")
    with pytest.raises(Declined, match="expired_or_canceled_card"):
        _op("refund", gateway, reference, "30.00", "ref-1")


def test_amounts_are_stripe_minor_units_per_currency(gateway, fake_stripe):
    assert to_minor(Decimal("12.34"), "EUR") == 1234
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert to_minor(Decimal("1.25"), "KWD") == 1250
    assert from_minor(1500, "jpy") == Decimal("1500.00")
    with pytest.raises(GatewayError, match="JPY has no such unit"):
        to_minor(Decimal("12.50"), "JPY")
    # a yen payment captured in part
    reference = _authorised(gateway, "1500", currency="JPY")
    assert fake_stripe.intents[reference]["amount"] == 1500
    _op("capture", gateway, reference, "500", "cap-1", currency="JPY")
    assert gateway.balance(payment_reference=reference).captured == Decimal("500.00")


def test_a_wrong_key_is_an_error_not_a_retry(settings, fake_stripe):
    settings.STRIPE_API_KEY = "sk_test_wrong"
    with pytest.raises(GatewayError, match="Invalid API Key") as error:
        StripeGateway().authorise(amount=Decimal("1.00"), currency="EUR", idempotency_key="k")
    assert not error.value.transient


@pytest.mark.django_db
def test_a_retailer_with_its_own_stripe_account_uses_its_own_key(
    settings, fake_stripe, retailer, other_retailer
):
    fake_stripe.api_key = "sk_test_acme_own"
    settings.STRIPE_API_KEY_BY_RETAILER = {"acme": "sk_test_acme_own"}
    # when
    own = gateway_for("stripe", retailer_id=retailer.pk)
    platform = gateway_for("stripe", retailer_id=other_retailer.pk)
    # then
    assert own.authorise(amount=Decimal("1.00"), currency="EUR", idempotency_key="a")
    with pytest.raises(GatewayError, match="Invalid API Key"):
        platform.authorise(amount=Decimal("1.00"), currency="EUR", idempotency_key="b")


def _balance(captured, refunded, voided):
    return GatewayBalance(Decimal(captured), Decimal(refunded), Decimal(voided))
