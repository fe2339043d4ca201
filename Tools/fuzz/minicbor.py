"""A minimal CBOR reader for seed extraction (definite lengths, the types our vectors use)."""
import struct


def loads(data: bytes):
    value, end = _item(data, 0)
    return value


def _head(data: bytes, i: int):
    initial = data[i]
    major, info = initial >> 5, initial & 0x1F
    i += 1
    if info < 24:
        return major, info, i
    size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    return major, int.from_bytes(data[i:i + size], "big"), i + size


def _item(data: bytes, i: int):
    major, value, i = _head(data, i)
    if major == 0:
        return value, i
    if major == 1:
        return -1 - value, i
    if major in (2, 3):
        raw = data[i:i + value]
        return (raw if major == 2 else raw.decode()), i + value
    if major == 4:
        items = []
        for _ in range(value):
            item, i = _item(data, i)
            items.append(item)
        return items, i
    if major == 5:
        result = {}
        for _ in range(value):
            key, i = _item(data, i)
            result[key], i = _item(data, i)
        return result, i
    if major == 7:
        return {20: False, 21: True, 22: None}.get(value), i
    raise ValueError("unsupported CBOR item")
