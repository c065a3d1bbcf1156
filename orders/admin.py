from django.contrib import admin

from billing.models import Payment, PaymentTransaction
from orders.models import (
    Comment,
    Memo,
    Order,
    OrderLine,
    OrderStatus,
    Shipment,
    ShipmentEvent,
    Task,
)


@admin.register(OrderStatus)
class OrderStatusAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "system_state", "colour", "position", "retailer"]
    list_filter = ["retailer", "system_state"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    exclude = ["retailer"]


class PaymentInline(admin.TabularInline):
    model = Payment
    extra = 0
    exclude = ["retailer"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["ref", "retailer", "customer", "status", "total", "currency", "placed_at"]
    list_filter = ["retailer", "status__system_state", "channel", "type"]
    list_select_related = ["retailer", "customer", "status"]
    search_fields = ["ref", "customer__email", "customer__last_name"]
    raw_id_fields = ["customer", "billing_address", "shipping_address", "status"]
    inlines = [OrderLineInline, PaymentInline]
    date_hierarchy = "placed_at"


@admin.register(PaymentTransaction)
class PaymentTransactionAdmin(admin.ModelAdmin):
    list_display = ["order", "kind", "amount", "status", "reference", "created_at"]
    list_filter = ["kind", "status", "retailer"]
    raw_id_fields = ["order", "payment", "created_by"]


class ShipmentEventInline(admin.TabularInline):
    model = ShipmentEvent
    extra = 0
    exclude = ["retailer"]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["order", "carrier", "tracking_number", "status", "estimated_delivery"]
    list_filter = ["status", "carrier", "retailer"]
    raw_id_fields = ["order"]
    inlines = [ShipmentEventInline]


@admin.register(Comment, Memo)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["order", "author", "body", "created_at"]
    raw_id_fields = ["order", "author"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["order", "description", "assignee", "status", "due_at"]
    list_filter = ["status", "retailer"]
    raw_id_fields = ["order", "assignee", "created_by"]


from orders.intake import admin as intake_admin  # noqa: E402, F401 - registers intake's models
