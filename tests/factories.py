"""factory-boy factories for tests and for `seed_demo`.

Factories keep related rows in one retailer: a child row takes its retailer from its parent.
"""

import factory
from django.contrib.auth import get_user_model

from oms.models import Membership, Retailer
from oms.roles import Role

DEMO_PASSWORD = "demo-password"


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer
        django_get_or_create = ("ref",)

    ref = factory.Sequence(lambda n: f"retailer-{n}")
    name = factory.LazyAttribute(lambda o: o.ref.replace("-", " ").title())
    currency = "EUR"
    time_zone = "Europe/Amsterdam"
    languages = factory.LazyFunction(lambda: ["en", "nl"])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(DEMO_PASSWORD)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership
        django_get_or_create = ("user", "retailer")

    user = factory.SubFactory(UserFactory)
    retailer = factory.SubFactory(RetailerFactory)
    role = Role.AGENT
