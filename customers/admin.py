from django.contrib import admin

from customers.models import Address, Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["ref", "first_name", "last_name", "email", "segment", "status", "retailer"]
    list_filter = ["retailer", "segment", "status"]
    search_fields = ["ref", "first_name", "last_name", "email"]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["name", "line1", "postcode", "city", "country", "retailer"]
    list_filter = ["retailer", "country"]
    raw_id_fields = ["customer"]
