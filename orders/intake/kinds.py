"""Each kind of intake channel, by the code its channels store: how it signs and names its
deliveries (the receiving view reads that) and how its payloads read as orders (processing)."""

from __future__ import annotations

from orders.intake.adapters import Adapter, BatchAdapter, MarketplaceAdapter, WebstoreAdapter
from orders.intake.shopify import ShopifyAdapter
from orders.intake.woocommerce import WooCommerceAdapter

ADAPTERS: dict[str, Adapter] = {
    "webstore": WebstoreAdapter(),
    "marketplace": MarketplaceAdapter(),
    "batch": BatchAdapter(),
    "shopify": ShopifyAdapter(),
    "woocommerce": WooCommerceAdapter(),
}
