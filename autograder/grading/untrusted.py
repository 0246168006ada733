"""Text that came from student code, made safe once, where it enters the grader.

Whatever a student's code prints, raises or returns can hold anything a Python string can:
lone surrogates (which no UTF-8 encoder accepts), terminal control sequences (a clipboard
write, a new window title, a cleared screen), bidirectional overrides that reorder what a
reader sees, and any length. :func:`text` turns such a string into one that every later
step (the gradebook, JSON files, CSV, HTML, a terminal or a log) can take as it is:
valid Unicode, no control characters but newline and tab (the others shown as visible
symbols, so nothing is hidden from the instructor), and at most ``limit`` characters.
It runs in time linear in the input's length (one pass of a character-class regex).
"""

import re

# C0 controls but tab and newline, DEL, C1 controls; the Unicode format characters that
# reorder or hide text (bidirectional embeddings, overrides and isolates, zero-width
# characters, the line and paragraph separators that some viewers treat as newlines).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
CUT = "\n[cut off: {} more characters]"


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def text(value: object, limit: int | None = None) -> str:
    """``value`` as a safe string (see the module's description): invalid code points
    replaced by U+FFFD, carriage returns as newlines, other control and format characters
    shown visibly, cut to ``limit`` characters (with a note of how much was cut)."""
    if not isinstance(value, str):
        value = str(value)
    cut = 0
    if limit is not None and len(value) > limit:
        # Cut first, so the work below is bounded by the limit, not the input.
        cut, value = len(value) - limit, value[:limit]
    value = _SURROGATE.sub("\ufffd", value)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _UNSAFE.sub(_visible, value)
    return value + CUT.format(cut) if cut else value


def name(value: object, limit: int = 200) -> str:
    """A name from outside (a file or folder in a submissions zip, a student id) for a
    message: safe as :func:`text`, on one line, quoted as Python would."""
    return repr(text(value, limit).replace("\n", "\u2424"))


class TooDeep(ValueError):
    """Data nested deeper than allowed (a submitted notebook's JSON)."""


def clean_data(value: object, max_depth: int) -> None:
    """Make every string in ``value`` (nested dicts and lists, as JSON gives them; keys
    included) safe as :func:`text`, in place, with no limit: the structure is kept. One
    pass without recursion, linear in the data's size; :class:`TooDeep` when containers
    are nested more than ``max_depth`` levels."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > max_depth:
            raise TooDeep(f"nested more than {max_depth} levels deep")
        if isinstance(container, dict):
            for key, item in list(container.items()):
                if isinstance(item, str):
                    item = text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                if isinstance(key, str) and (safe := text(key)) != key:
                    del container[key]
                    key = safe
                container[key] = item
        elif isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
