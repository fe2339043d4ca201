#!/usr/bin/env python3
"""Checks docs/ans-referencing-list.schema.json against the lists the reader is tested with:
the demo lists must be valid, and each signed-but-invalid list the reader refuses as malformed
or of another version must be invalid for the schema too (so the schema and the Swift reader
say the same thing). `other-key` is a valid document signed by the wrong key: valid here.

Run: python3 Tools/referencing/check_schema.py   (needs the `jsonschema` package)
"""
import json
import sys
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
LISTS = ROOT / "TestVectors" / "referencing"
EXPECTED = {
    "demo-ans-list.json": True,
    "demo-ans-list-no2.json": True,
    "invalid/other-key.json": True,
    "invalid/schema-version-2.json": False,
    "invalid/unknown-member.json": False,
    "invalid/bad-decision.json": False,
}


def main() -> int:
    schema = json.loads((ROOT / "docs" / "ans-referencing-list.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    for name, valid in EXPECTED.items():
        errors = list(validator.iter_errors(json.loads((LISTS / name).read_text())))
        if (not errors) != valid:
            failures += 1
            print(f"schema: {name} should be {'valid' if valid else 'invalid'}: {[e.message for e in errors][:3]}")
    try:
        json.loads((LISTS / "invalid" / "not-json.json").read_text())
        failures += 1
        print("schema: invalid/not-json.json parses as JSON")
    except json.JSONDecodeError:
        pass
    print(f"schema: {len(EXPECTED) + 1} lists checked, {failures} disagreements")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
