from django import template

from oms import activity

register = template.Library()


@register.filter
def describe(entry) -> str:
    """{{ entry|describe }}: what an activity entry was, in words."""
    return activity.describe(entry)
