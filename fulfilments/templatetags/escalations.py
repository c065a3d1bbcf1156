from django import template

from fulfilments import escalation

register = template.Library()


@register.simple_tag
def escalation_badge(since, prefix: str = ""):
    """{% escalation_badge fulfilment.escalated_at "waiting " %}"""
    return escalation.badge(since, prefix)


@register.inclusion_tag("fulfilments/_escalation_legend.html")
def escalation_legend():
    return {"steps": escalation.STEPS}
