"""JSON Schema (OpenAPI 3.0) from DRF serializers: what a field declares is what the document
says (type, format, length, range, enum, nullable, required, nested objects, arrays)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers


def _number(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _enum(field: serializers.ChoiceField) -> list:
    values = list(field.choices)
    if field.allow_null:
        values.append(None)
    return values


def field_schema(field: serializers.Field) -> dict:
    """The JSON Schema of one serializer field."""
    if isinstance(field, serializers.ListSerializer):
        schema = {"type": "array", "items": field_schema(field.child)}
        if not field.allow_empty:
            schema["minItems"] = 1
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
    elif isinstance(field, serializers.Serializer):
        schema = object_schema(field)
    elif isinstance(field, serializers.ListField):
        schema = {"type": "array", "items": field_schema(field.child)}
        if getattr(field, "allowed", None):
            schema["items"] = {"type": "string", "enum": list(field.allowed)}
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
    elif isinstance(field, serializers.ChoiceField):
        schema = {"type": "string", "enum": _enum(field)}
    elif isinstance(field, serializers.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, serializers.IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, serializers.FloatField | serializers.DecimalField):
        schema = {"type": "number"}
    elif isinstance(field, serializers.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, serializers.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(field, serializers.EmailField):
        schema = {"type": "string", "format": "email"}
    else:
        schema = {"type": "string"}
    if schema["type"] in ("string",) and getattr(field, "max_length", None) is not None:
        schema["maxLength"] = field.max_length
    if schema["type"] in ("string",) and getattr(field, "min_length", None):
        schema["minLength"] = field.min_length
    if schema["type"] in ("integer", "number"):
        if getattr(field, "min_value", None) is not None:
            schema["minimum"] = _number(field.min_value)
        if getattr(field, "max_value", None) is not None:
            schema["maximum"] = _number(field.max_value)
    schema.update(getattr(field, "schema", None) or {})
    if field.allow_null:
        schema["nullable"] = True
    if field.help_text:
        schema["description"] = str(field.help_text)
    default = field.default
    if default is not serializers.empty and not callable(default):
        schema["default"] = default
    return schema


def object_schema(serializer: serializers.Serializer) -> dict:
    """An object: its fields as properties, the compulsory ones required."""
    fields = serializer.fields
    schema = {
        "type": "object",
        "properties": {name: field_schema(field) for name, field in fields.items()},
    }
    required = [name for name, field in fields.items() if field.required]
    if required:
        schema["required"] = required
    return schema


def parameters(serializer: serializers.Serializer, where: str = "query") -> list[dict]:
    """A serializer of query parameters as OpenAPI parameters."""
    found = []
    for name, field in serializer.fields.items():
        schema = field_schema(field)
        parameter = {"name": name, "in": where}
        if field.required:
            parameter["required"] = True
        description = schema.pop("description", None)
        if description:
            parameter["description"] = description
        if schema.get("nullable"):  # an absent parameter is the empty value
            del schema["nullable"]
            if None in schema.get("enum", []):
                schema["enum"] = [value for value in schema["enum"] if value is not None]
        parameter["schema"] = schema
        if schema["type"] == "array":
            parameter["explode"] = True
        found.append(parameter)
    return found
