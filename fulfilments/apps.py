from django.apps import AppConfig


class FulfilmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "fulfilments"
