"""JSON for the hook path through CPython's C accelerator `_json`, without `import json`.

`import json` pulls in `re` (and through it `enum`), ~5-8 ms per hook process; the C scanner
and encoder underneath need neither. Same results as json.loads / json.dumps(sort_keys=True,
separators=(",", ":")); interpreters without `_json` fall back to the json module.
"""
try:
    import _json

    class _Decoding:  # the attributes _json.make_scanner reads off json.JSONDecoder
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = float  # NaN / Infinity, as json.loads gives them
        memo = None

    _scan = _json.make_scanner(_Decoding())
    _encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",",
                                 True, False, True)
except (ImportError, AttributeError, TypeError):  # pragma: no cover - non-CPython
    _json = None

_WHITESPACE = " \t\n\r"


def loads(text: str):
    """Like json.loads for a str; raises ValueError on anything that is not one JSON value."""
    if _json is None:  # pragma: no cover
        import json
        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
        if not text[end:].strip(_WHITESPACE):
            return value
    except RecursionError:
        raise
    except Exception:  # noqa: BLE001 - malformed: the json module words the error properly
        pass  # (the bare scanner can fail without an exception set on truncated input)
    import json
    return json.loads(text)


def dumps(value) -> str:
    """Compact, key-sorted, ASCII JSON (deterministic: the same value gives the same text)."""
    if _json is None:  # pragma: no cover
        import json
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "".join(_encode(value, 0))
