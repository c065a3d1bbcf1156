from django.contrib import admin

from fulfilments.models import Carrier, Fulfilment, FulfilmentItem, Location, StockPosition


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["ref", "name", "type", "country", "daily_capacity", "is_active", "retailer"]
    list_filter = ["retailer", "type", "is_active"]


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ["name", "zones", "transit_days", "is_available", "retailer"]
    list_filter = ["retailer", "is_available"]


@admin.register(StockPosition)
class StockPositionAdmin(admin.ModelAdmin):
    list_display = ["sku", "location", "on_hand", "reserved", "safety_threshold", "retailer"]
    list_filter = ["retailer", "location"]
    search_fields = ["sku"]


class FulfilmentItemInline(admin.TabularInline):
    model = FulfilmentItem
    extra = 0
    exclude = ["retailer"]
    raw_id_fields = ["order_line"]


@admin.register(Fulfilment)
class FulfilmentAdmin(admin.ModelAdmin):
    list_display = ["ref", "order", "location", "status", "escalated_at", "retailer"]
    list_filter = ["retailer", "status"]
    raw_id_fields = ["order"]
    inlines = [FulfilmentItemInline]
