"""Validate an ``ofs_batchRun`` facet, as an OpenLineage consumer would, against the schema the package ships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

import airflow_provider_ofs

SCHEMA_FILE = Path(airflow_provider_ofs.__file__).parent / "facets" / "OFSBatchRunFacet.json"
OPENLINEAGE_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
#: What the OpenLineage 2-0-2 spec requires of every run facet (its BaseFacet), here rather than fetched.
RUN_FACET = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "RunFacet": {
            "type": "object",
            "properties": {
                "_producer": {"type": "string", "format": "uri"},
                "_schemaURL": {"type": "string", "format": "uri"},
            },
            "required": ["_producer", "_schemaURL"],
            "additionalProperties": True,
        }
    },
}


def assert_valid_facet(facet: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` naming the field when ``facet`` breaks the shipped schema."""
    schema = json.loads(SCHEMA_FILE.read_text())
    registry = Registry().with_resource(OPENLINEAGE_SPEC, Resource.from_contents(RUN_FACET))
    validator = jsonschema.Draft202012Validator(
        {**schema, "$ref": "#/$defs/OFSBatchRunFacet"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(facet)
