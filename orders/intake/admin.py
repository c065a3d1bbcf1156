from django.contrib import admin

from orders.intake.models import IntakeChannel, IntakeMessage


@admin.register(IntakeChannel)
class IntakeChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "retailer", "is_active"]
    list_filter = ["retailer", "kind"]


@admin.register(IntakeMessage)
class IntakeMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "external_id", "event", "status", "received_at"]
    list_filter = ["status", "channel"]
    readonly_fields = ["body", "reasons", "order", "received_at", "processed_at"]
