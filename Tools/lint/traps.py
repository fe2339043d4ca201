#!/usr/bin/env python3
"""Lists every place in Sources/ where a value could trap instead of failing with a code.

Swift stops the process on a numeric conversion that does not fit (`Int(1e300)`,
`UInt8(300)`), on a failed `!`, `try!` or `as!`, and on `precondition`/`fatalError`. On a path
that input reaches, each is an outage (issue #7: one SafetyNet line with timestampMs 1e300
killed a whole --jsonl batch). This script finds them all:

  - numeric conversions `Int(…)`, `UInt8(…)`, `Double(…)`, … other than the non-trapping
    `exactly:`, `truncatingIfNeeded:`, `clamping:`, `bitPattern:` and `ascii:` forms;
  - force unwraps, `try!`, `as!`;
  - `precondition`, `preconditionFailure`, `fatalError`.

Each must be listed in Tools/lint/allowed-traps.txt with the reason it cannot trap on input
(`file :: the line, trimmed :: reason`). An unlisted one fails, and so does a listed one that no
longer exists, so the list stays true.

  Tools/lint/traps.py [--list]
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = Path(__file__).resolve().parent / "allowed-traps.txt"
NUMERIC = r"(?:U?Int(?:8|16|32|64)?|Double|Float|Float80|CGFloat|TimeInterval|time_t|DWORD|LONG|size_t|Int32)"
CONVERSION = re.compile(r"(?<![\w.])" + NUMERIC + r"\((?!\s*(?:exactly|truncatingIfNeeded|clamping|bitPattern|ascii|repeating)\s*:)(?!\))")
FORCE = re.compile(r"(?:try!|as!|[\w\)\]]!(?!=))")
STOPS = re.compile(r"\b(?:precondition|preconditionFailure|fatalError)\(")


def code_only(line: str, in_block: bool) -> tuple[str, bool]:
    """The line without comments and string literal contents (interpolations kept)."""
    out = []
    i = 0
    in_string = False
    depth = 0
    while i < len(line):
        if in_block:
            end = line.find("*/", i)
            if end < 0:
                return "".join(out), True
            i = end + 2
            in_block = False
            continue
        c = line[i]
        if in_string:
            if c == "\\" and i + 1 < len(line) and line[i + 1] == "(":
                depth += 1
                in_string = False
                out.append("(")
                i += 2
                continue
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
                out.append('"')
            i += 1
            continue
        if line.startswith("//", i):
            break
        if line.startswith("/*", i):
            in_block = True
            i += 2
            continue
        if c == '"':
            in_string = True
            out.append('"')
            i += 1
            continue
        if c == ")" and depth > 0:
            depth -= 1
            in_string = True
            out.append(")")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), in_block


def findings() -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted((ROOT / "Sources").rglob("*.swift")):
        in_block = False
        for number, raw in enumerate(path.read_text().splitlines(), 1):
            code, in_block = code_only(raw, in_block)
            kinds = []
            if CONVERSION.search(code):
                kinds.append("conversion")
            if FORCE.search(code):
                kinds.append("force")
            if STOPS.search(code):
                kinds.append("stop")
            if kinds:
                found.append((str(path.relative_to(ROOT)), number, raw.strip(), "+".join(kinds)))
    return found


def allowed() -> dict[tuple[str, str], str]:
    entries = {}
    for line in ALLOWED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, source, reason = (part.strip() for part in line.split(" :: ", 2))
        if not reason:
            raise SystemExit(f"allowed-traps.txt: no reason for {path}: {source}")
        entries[(path, source)] = reason
    return entries


def self_test() -> None:
    """The patterns flag what can trap and leave alone what cannot."""
    flagged = ["let age = Int(seconds)", "x = UInt8(count)", "let k = value!", "try! decode()", "x as! Int",
               "precondition(ok)", "fatalError(\"no\")", "let s = \"\\(Int(d)) s\"", "a = Int64(d) /* c */"]
    clean = ["Int(exactly: d)", "UInt8(truncatingIfNeeded: n)", "Int32(clamping: n)", "UInt8(bitPattern: c)",
             "UInt8(ascii: \"a\")", "a != b", "// Int(x) in a comment", "let s = \"Int(x) in a string\"", "[UInt8]()"]
    for line in flagged:
        code, _ = code_only(line, False)
        assert CONVERSION.search(code) or FORCE.search(code) or STOPS.search(code), f"not flagged: {line}"
    for line in clean:
        code, _ = code_only(line, False)
        assert not (CONVERSION.search(code) or FORCE.search(code) or STOPS.search(code)), f"flagged: {line}"


def main() -> int:
    self_test()
    found = findings()
    if "--list" in sys.argv:
        for path, number, source, kind in found:
            print(f"{path}:{number}: [{kind}] {source}")
        return 0
    entries = allowed()
    seen = set()
    unlisted = []
    for path, number, source, kind in found:
        key = (path, source)
        if key in entries:
            seen.add(key)
        else:
            unlisted.append(f"{path}:{number}: [{kind}] {source}")
    stale = [f"{path}: {source}" for (path, source) in entries if (path, source) not in seen]
    for line in unlisted:
        print(f"traps: not on the allow-list: {line}")
    for line in stale:
        print(f"traps: listed but gone (remove it): {line}")
    print(f"traps: {len(found)} possible traps in Sources/, {len(seen)} listed with a reason, "
          f"{len(unlisted)} unlisted, {len(stale)} stale")
    return 1 if unlisted or stale else 0


if __name__ == "__main__":
    sys.exit(main())
