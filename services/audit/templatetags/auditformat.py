"""Template filters for audit events: ``{{ e|changes }}``, ``{{ e.action|action_label }}``."""

from __future__ import annotations

from typing import Any

from django import template

from services.audit import display

register = template.Library()


@register.filter
def changes(event: Any) -> list[display.ValueChange]:
    return display.value_changes(event.old_values, event.new_values)


@register.filter
def action_label(action: str) -> str:
    return display.action_label(action)
