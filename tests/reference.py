"""Kalshi's reference material for tests: the OpenAPI document and the golden responses.

They live in `tests/fixtures/kalshi/`: `openapi-v3.13.0.yaml` is Kalshi's own OpenAPI document (April
2026) and `golden/` holds real production responses recorded 2026-01-12..15 (each file is
`{"_metadata": {request, recorded_at}, "response": <raw body>}`; portfolio files are sanitized).
OpenAPI 3.0 schemas are turned into JSON Schema here so every test validates the same way.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]


FIXTURES = REPO / "tests" / "fixtures"


def kalshi_reference_dir() -> Path:
    return FIXTURES / "kalshi"


def openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema: `nullable: true` admits null."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: openapi_to_jsonschema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "$ref" in converted or "allOf" in converted:
            inner = {key: converted.pop(key) for key in ("$ref", "allOf") if key in converted}
            converted["anyOf"] = [inner, {"type": "null"}]
        elif "type" in converted:
            types = converted["type"] if isinstance(converted["type"], list) else [converted["type"]]
            converted["type"] = [*types, "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            converted = {"anyOf": [converted, {"type": "null"}]}
    return converted


FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


class OpenApiDocument:
    def __init__(self, path: Path) -> None:
        raw = yaml.safe_load(path.read_text())
        self.schemas = openapi_to_jsonschema(raw["components"]["schemas"])
        self.responses = raw["components"].get("responses", {})
        self.operations: list[tuple[str, re.Pattern[str], str, dict]] = []
        for template, item in raw["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for method, operation in item.items():
                if method in ("get", "post", "put", "delete"):
                    self.operations.append((method.upper(), pattern, template, operation))
        # A literal segment beats a parameter: /markets/trades before /markets/{ticker}.
        self.operations.sort(key=lambda op: op[2].count("{"))

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        for op_method, pattern, template, operation in self.operations:
            if op_method == method and pattern.match(path):
                return template, operation
        raise LookupError(f"{method} {path} is not in the OpenAPI document")

    def response_schema(self, operation: dict, status: int) -> dict | None:
        response = operation.get("responses", {}).get(str(status))
        if response is None:
            return None
        if "$ref" in response:
            response = self.responses[response["$ref"].rsplit("/", 1)[-1]]
        content = response.get("content", {}).get("application/json")
        return openapi_to_jsonschema(content["schema"]) if content else None

    def validate(self, instance: Any, schema: dict) -> None:
        document = {**schema, "components": {"schemas": self.schemas}}
        jsonschema.Draft202012Validator(document, format_checker=FORMAT_CHECKER).validate(instance)




def openapi_document() -> OpenApiDocument:
    return OpenApiDocument(kalshi_reference_dir() / "openapi-v3.13.0.yaml")
