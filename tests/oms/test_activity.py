import pytest

from oms import activity
from oms.models import Activity

pytestmark = pytest.mark.django_db


def test_record_keeps_who_what_which_record_and_its_retailer(retailer, manager):
    entry = activity.record(
        action="oms.retailer.renamed",
        target=retailer,
        by=manager,
        data={"before": {"name": "Acme"}, "after": {"name": "Acme Outfitters"}},
    )
    entry = Activity.objects.get(pk=entry.pk)
    assert entry.retailer == retailer
    assert entry.actor == manager
    assert (entry.target_type, entry.target_id) == ("oms.retailer", str(retailer.pk))
    assert (entry.root_type, entry.root_id) == ("oms.retailer", str(retailer.pk))
    assert entry.data["after"]["name"] == "Acme Outfitters"


def test_the_root_puts_a_change_on_another_records_timeline(retailer):
    target = activity.record(action="a.b.c", target=retailer, by=None)
    entry = activity.record(
        action="oms.activity.annotated",
        target=target,
        root=activity.RecordRef("orders.order", "7"),
        by=None,
    )
    assert (entry.root_type, entry.root_id) == ("orders.order", "7")
    assert entry.actor is None
    assert entry.retailer_id == retailer.pk
