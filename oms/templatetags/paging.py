from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import pluralize
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def result_count(paginator, noun: str) -> str:
    """“1 order”, “250 orders”, or “about 200,000 orders” where the count is an estimate."""
    count = paginator.count
    about = "about " if getattr(paginator, "estimated", False) else ""
    return format_html("{}<strong>{}</strong> {}{}", about, intcomma(count), noun, pluralize(count))
