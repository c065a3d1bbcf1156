"""Webhooks out: signed HTTP POSTs telling a retailer's own systems (ERP, storefront,
warehouse) what happened.

- `registry`: the events (`EVENTS`) and which activity gives each; apps `register` theirs.
- `outbox`: a delivery row per subscribed endpoint, written with the change (`collect`, called
  by `oms.activity.record`).
- `delivery`: the deliverer, one per endpoint at a time, with retries and backoff.
- `signing`: the headers and the signature, and what a receiver checks (`verify`).
- `schema`: JSON Schemas of the body and of each event's data (version 1).
- `services`: endpoints kept by a retailer's admins, and sending a delivery again.
"""

from oms.webhooks.registry import EVENTS, register

__all__ = ["EVENTS", "register"]
