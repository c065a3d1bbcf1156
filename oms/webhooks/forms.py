"""The form an admin adds or edits a webhook endpoint with."""

from __future__ import annotations

from typing import Any

from django import forms

from oms import bounds
from oms.forms import StyledForm
from oms.models import WebhookEndpoint
from oms.webhooks import services


class EndpointForm(StyledForm):
    url = forms.CharField(
        label="URL",
        max_length=bounds.text_limit(WebhookEndpoint, "url"),
        help_text="Where the events are posted: an https:// (or http://) address your systems answer on.",
    )
    description = forms.CharField(
        max_length=bounds.text_limit(WebhookEndpoint, "description"),
        required=False,
        help_text="What the endpoint is for, for whoever reads this list later.",
    )
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name, _ in services.EVENTS],
        widget=forms.CheckboxSelectMultiple,
        # none ticked is refused by the service, with its words, after the URL is checked
        required=False,
        help_text="The events posted to it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # each box is ticked by itself, not drawn as a text input
        self.fields["events"].widget.attrs["class"] = "form-check-input"

    def event_options(self) -> list[dict[str, Any]]:
        """Each event with its description and whether its box is ticked."""
        if self.is_bound:
            chosen = set(self.data.getlist("events"))
        else:
            chosen = set(self.initial.get("events") or ())
        return [
            {"name": name, "description": description, "checked": name in chosen}
            for name, description in services.EVENTS
        ]
