from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from oms.models import Activity, Membership, OutboundEmail, Retailer, User
from oms.retailer_defaults import retailer_ensure_defaults


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["retailer"]


@admin.register(User)
class OmsUserAdmin(UserAdmin):
    inlines = [MembershipInline]


@admin.register(Retailer)
class RetailerAdmin(admin.ModelAdmin):
    list_display = ["ref", "name", "currency", "time_zone", "is_active"]
    search_fields = ["ref", "name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        retailer_ensure_defaults(retailer=obj)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["created_at", "retailer", "actor", "action", "target_type", "target_id"]
    list_filter = ["retailer", "action"]
    list_select_related = ["retailer", "actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "retailer", "to", "subject", "status", "attempts"]
    list_filter = ["status", "retailer"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
