"""Print the wire schema that js/wire_schema.json holds:
``.venv/bin/python scripts/wire_schema.py > js/wire_schema.json``."""

import sys

from confusion_widget.wire import schema_json

sys.stdout.write(schema_json())
