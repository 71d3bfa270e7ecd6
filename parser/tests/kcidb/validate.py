#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""validate.py FILE...: validate KCIDB documents with kcidb-io.

Checks that kcidb-io's LATEST schema is 5.3 (the version ktap2junit
writes), then loads each FILE as strict UTF-8 JSON, checks that its
version is 5.3 and validates it with kcidb_io.schema.LATEST.validate().
Prints `VALID FILE: N tests` or `INVALID FILE: why` for each; exits 0
if every document is valid, 1 if one is not, 2 if kcidb-io is not what
the tests expect.
"""

import json
import sys

import jsonschema
import kcidb_io

WANT = (5, 3)


def main(paths):
    latest = kcidb_io.schema.LATEST
    if (latest.major, latest.minor) != WANT:
        print(f"kcidb-io's LATEST schema is {latest.major}.{latest.minor}, "
              f"not {WANT[0]}.{WANT[1]}")
        return 2
    print(f"kcidb-io LATEST schema {latest.major}.{latest.minor}")
    invalid = 0
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="strict") as f:
                doc = json.load(f)
            version = doc.get("version") if isinstance(doc, dict) else None
            if version != {"major": WANT[0], "minor": WANT[1]}:
                raise ValueError(f"version {version!r}, not {WANT}")
            latest.validate(doc)
        except (ValueError, jsonschema.exceptions.ValidationError) as e:
            why = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"INVALID {path}: {why}")
            invalid += 1
            continue
        print(f"VALID {path}: {len(doc.get('tests', []))} tests")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
