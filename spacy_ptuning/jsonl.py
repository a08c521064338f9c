"""JSON Lines as the format defines them, one line at a time: what `ray-annotate` reads.

No dependencies, so the line handling is usable (and tested) without Ray or pyarrow."""
import json
from typing import Dict, List, Optional


def json_lines(data: bytes) -> List[bytes]:
    """The lines of a JSON Lines file, as that format defines them: split at b"\\n" only (a
    raw U+2028, form feed or lone carriage return inside a line keeps it one line, where
    str.splitlines would cut it), a "\\r" before the "\\n" dropped, a byte order mark at
    the start dropped, and no extra line after a final newline. Empty lines are lines."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def parse_line(raw: bytes, text_field: str = "text", question_field: str = "question") -> Dict[str, Optional[str]]:
    """One JSONL line -> `record` (the line as text), `text` and `question` (strings or null)
    and `error` (a line that is not UTF-8, not JSON or not an object, or a field of the
    wrong type), so that every column has one Arrow type."""
    text, question, error, record = None, None, None, None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.decode("utf-8", errors="replace")
        error = f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}"
    if error is None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            error = f"not JSON: {err}"
    if error is None and not isinstance(record, dict):
        record, error = None, f"not a JSON object: {line[:60]!r}"
    if isinstance(record, dict):
        text, question = record.get(text_field), record.get(question_field)
        for field, value in ((text_field, text), (question_field, question)):
            if value is not None and not isinstance(value, str):
                error = f"field {field!r} must be a string, got {type(value).__name__}"
        if text is None and error is None:
            error = f"missing field {text_field!r}"
    ok = error is None
    return {"record": line, "text": text if ok else None, "question": question if ok else None, "error": error}
