from django.apps import AppConfig


class CustomersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customers"

    def ready(self) -> None:
        from customers import events  # noqa: F401 - registers how customer activity reads
        from customers.search import search_customers
        from oms.global_search import register_search

        register_search("customers", search_customers, position=30)
