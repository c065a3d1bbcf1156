from django.contrib import admin

from customers.models import Address, Customer


class _ReadOnly(admin.ModelAdmin):
    """Customers change only through `customers.services` (the edit page), which checks the
    role, the bounds and records the activity: the admin site only shows them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(_ReadOnly):
    list_display = ["ref", "first_name", "last_name", "email", "segment", "status", "retailer"]
    list_filter = ["retailer", "segment", "status"]
    search_fields = ["ref", "first_name", "last_name", "email"]


@admin.register(Address)
class AddressAdmin(_ReadOnly):
    list_display = ["name", "line1", "postcode", "city", "country", "retailer"]
    list_filter = ["retailer", "country"]
    raw_id_fields = ["customer"]
