"""The columns of an orders export: the list's CSV and a bulk job's export write the same."""

from oms.exports import moment

CSV_COLUMNS = [
    ("Order ref", lambda o: o.ref),
    ("Retailer", lambda o: o.retailer.name),
    ("Customer", lambda o: o.customer.full_name if o.customer else ""),
    ("Email", lambda o: o.customer.email if o.customer else ""),
    ("Segment", lambda o: o.customer.get_segment_display() if o.customer else ""),
    ("Status", lambda o: o.status.label),
    ("System state", lambda o: o.status.system_state),
    ("Channel", lambda o: o.get_channel_display()),
    ("Type", lambda o: o.get_type_display()),
    ("Items", lambda o: o.item_count),
    ("Currency", lambda o: o.currency),
    ("Total", lambda o: o.total),
    ("Payment", lambda o: o.get_payment_status_display()),
    ("Placed ({zone})", lambda o: moment(o.placed_at)),
    ("Promised", lambda o: o.promised_date.isoformat() if o.promised_date else ""),
    ("Invoice number", lambda o: o.invoice_number),
]
