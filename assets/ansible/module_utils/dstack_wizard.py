# dstack_wizard.py: what the exported playbooks share with dstack-wizard itself, in Python:
# its regular expressions (PCRE2 written as POSIX EREs usually are) and its JSON assertions
# (".vms[name=kms].status == \"running\""), with the same meaning as the wizard's
# steps/rx.c and steps/jsonpath.c. The probe module imports it on the hosts; the action
# plugins load it on the controller.
import json
import math
import re
import warnings

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
    "lower": "a-z", "xdigit": "0-9A-Fa-f", "space": " \\t\\n\\r\\f\\v", "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~", "print": " -~", "graph": "!-~", "cntrl": "\\x00-\\x1f\\x7f",
    "word": "\\w",
}


def translate(pattern):
    """The chain's regex dialect (PCRE2) as a Python regex: POSIX classes inside brackets
    ([[:space:]]) spelled out, \\z as \\Z, (?<name> as (?P<name>."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append("\\Z" if pattern[i + 1] == "z" else pattern[i:i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            out.append("[")
            if j < n and pattern[j] == "^":
                out.append("^")
                j += 1
            if j < n and pattern[j] == "]":
                out.append("\\]")
                j += 1
            while j < n and pattern[j] != "]":
                if pattern[j] == "\\" and j + 1 < n:
                    out.append(pattern[j:j + 2])
                    j += 2
                    continue
                m = re.match(r"\[:([a-z]+):\]", pattern[j:])
                if m and m.group(1) in _POSIX_CLASSES:
                    out.append(_POSIX_CLASSES[m.group(1)])
                    j += m.end()
                    continue
                out.append("\\[" if pattern[j] == "[" else pattern[j])
                j += 1
            out.append("]")
            i = j + 1
        elif pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def rx(pattern, lines=False, icase=False):
    """Compile a chain regex; re.error if it does not compile."""
    flags = (re.MULTILINE if lines else 0) | (re.IGNORECASE if icase else 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(translate(pattern), flags)


# ---- JSON assertions (steps/jsonpath.c) -------------------------------------------------

_OPS = [("==", "eq"), ("!=", "ne"), (">=", "ge"), ("<=", "le"), ("=~", "match"),
        ("!~", "nomatch"), (">", "gt"), ("<", "lt"), ("contains", "contains"),
        ("exists", "exists")]
_MISSING = object()


class JsonPathError(ValueError):
    pass


def _namechar(c):
    return len(c) == 1 and (c.isalnum() and c.isascii() or c in "_-$@")


class _Parser:
    def __init__(self, s):
        self.s, self.pos = s, 0

    def peek(self, k=0):
        return self.s[self.pos + k] if self.pos + k < len(self.s) else ""

    def fail(self, at, msg):
        raise JsonPathError("column %d: %s" % (at + 1, msg))

    def skip(self):
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    def string(self):
        start = self.pos
        end = self.pos + 1
        while True:
            if end >= len(self.s):
                self.fail(start, "unterminated string")
            if self.s[end] == "\\":
                end += 2
                continue
            if self.s[end] == '"':
                break
            end += 1
        try:
            v = json.loads(self.s[start:end + 1])
        except ValueError:
            self.fail(start, "bad escape in string")
        self.pos = end + 1
        return v

    def name(self):
        if self.peek() == '"':
            return self.string()
        start = self.pos
        while self.peek() and _namechar(self.peek()):
            self.pos += 1
        if self.pos == start:
            self.fail(start, "expected a field name")
        return self.s[start:self.pos]


def parse(expr):
    """Parse an assertion into (path text, segments, op, literal kind, literal, literal text)."""
    p = _Parser(expr)
    p.skip()
    pstart = p.pos
    if p.peek() != ".":
        p.fail(p.pos, 'a path starts with "." (e.g. .status)')
    p.pos += 1
    segs, first = [], True
    while True:
        c = p.peek()
        if c == "[":
            start = p.pos
            p.pos += 1
            p.skip()
            if p.peek() in ("]", "*"):
                if p.peek() == "*":
                    p.pos += 1
                    p.skip()
                if p.peek() != "]":
                    p.fail(p.pos, 'expected "]"')
                p.pos += 1
                segs.append(("any", None, None, p.pos))
            elif p.peek() == "-" or p.peek().isdigit():
                m = re.match(r"-?[0-9]+", p.s[p.pos:])
                if not m:
                    p.fail(p.pos, "expected a digit")
                v = int(m.group(0))
                p.pos += m.end()
                p.skip()
                if p.peek() != "]":
                    p.fail(p.pos, 'expected "]" after the index')
                p.pos += 1
                if m.group(0) == "-0":
                    p.fail(start, "index -0 (use [0] or [-1])")
                segs.append(("index", v, None, p.pos))
            elif p.peek() and (_namechar(p.peek()) or p.peek() == '"'):
                key = p.name()
                p.skip()
                if p.peek() != "=":
                    p.fail(p.pos, 'expected "=" in [key=value]')
                p.pos += 1
                p.skip()
                if p.peek() == '"':
                    val = p.string()
                    p.skip()
                else:
                    vs = p.pos
                    while p.peek() not in ("]", "", "["):
                        p.pos += 1
                    val = p.s[vs:p.pos].rstrip(" \t")
                if p.peek() != "]":
                    p.fail(p.pos, 'expected "]" after [key=value')
                p.pos += 1
                segs.append(("filter", key, val, p.pos))
            else:
                p.fail(p.pos, 'expected an index, "*" or key=value in brackets')
        elif first and c and (_namechar(c) or c == '"'):
            segs.append(("name", p.name(), None, p.pos))
        elif not first and c == ".":
            p.pos += 1
            if not (p.peek() and (_namechar(p.peek()) or p.peek() == '"')):
                p.fail(p.pos, 'expected a field name after "."')
            segs.append(("name", p.name(), None, p.pos))
        else:
            break
        first = False
    pend = p.pos
    p.skip()
    op = None
    for text, name in _OPS:
        if p.s.startswith(text, p.pos):
            if name in ("contains", "exists") and _namechar(p.peek(len(text))):
                continue
            op = name
            p.pos += len(text)
            break
    if op is None:
        p.fail(p.pos, "expected an operator (==, !=, >, >=, <, <=, =~, !~, contains, exists)")
    kind, lit, littext = None, None, ""
    if op != "exists":
        p.skip()
        start = p.pos
        c = p.peek()
        if c == "":
            p.fail(p.pos, "expected a value after the operator")
        if c == '"':
            kind, lit = "string", p.string()
        elif c == "/":
            body, j = [], p.pos + 1
            while True:
                if j >= len(p.s):
                    p.fail(start, "unterminated regular expression (no closing /)")
                if p.s[j] == "/":
                    break
                if p.s[j] == "\\" and j + 1 < len(p.s):
                    body.append("/" if p.s[j + 1] == "/" else p.s[j:j + 2])
                    j += 2
                    continue
                body.append(p.s[j])
                j += 1
            j += 1
            icase = False
            while j < len(p.s) and p.s[j].isalpha():
                if p.s[j] != "i":
                    p.fail(j, 'unknown regular expression flag "%s" (only i)' % p.s[j])
                icase = True
                j += 1
            p.pos = j
            try:
                kind, lit = "regex", rx("".join(body), icase=icase)
            except re.error as e:
                p.fail(start, "bad regular expression: %s" % e)
        elif c == "-" or c.isdigit():
            m = re.match(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", p.s[p.pos:])
            if not m or _namechar(p.peek(m.end())) or p.peek(m.end()) == ".":
                p.fail(start, "bad number")
            kind, lit = "number", float(m.group(0))
            if not math.isfinite(lit):
                p.fail(start, "number out of range")
            p.pos += m.end()
        else:
            m = re.match(r"(true|false|null)(?![A-Za-z0-9_$@-])", p.s[p.pos:])
            if not m:
                p.fail(p.pos, 'expected a value ("string", number, true, false or null)')
            kind, lit = m.group(1), None
            p.pos += m.end()
        littext = p.s[start:p.pos]
        if op in ("eq", "ne") and kind == "regex":
            p.fail(start, "a /regex/ needs =~ or !~")
        if op in ("gt", "ge", "lt", "le") and kind != "number":
            p.fail(start, "this comparison needs a number")
        if op in ("match", "nomatch") and kind != "regex":
            p.fail(start, "=~ and !~ need a /regex/")
        if op == "contains" and kind == "regex":
            p.fail(start, "contains needs a value, not a /regex/")
    p.skip()
    if p.pos != len(p.s):
        p.fail(p.pos, "unexpected text after the assertion")
    return (expr, pstart, pend, segs, op, kind, lit, littext)


def _kind(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, dict):
        return "an object"
    return "an array"


def _show(v):
    t = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return t if len(t) <= 80 else t[:80] + "..."


def _inner(v):
    if isinstance(v, str) and v.lstrip(" \t\r\n")[:1] in ("{", "["):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _filter_match(v, want):
    if isinstance(v, bool):
        return want == ("true" if v else "false")
    if v is None:
        return want == "null"
    if isinstance(v, str):
        return v == want
    if isinstance(v, (int, float)):
        try:
            return want != "" and float(want) == v
        except ValueError:
            return False
    return False


def _equal(kind, lit, v):
    if kind == "string":
        return isinstance(v, str) and v == lit
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v == lit
    if kind == "true":
        return v is True
    if kind == "false":
        return v is False
    if kind == "null":
        return v is None
    return False


def _text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or isinstance(v, (int, float)):
        return json.dumps(v)
    return None


def _holds(op, kind, lit, littext, v):
    isnum = isinstance(v, (int, float)) and not isinstance(v, bool)
    if op == "eq":
        return _equal(kind, lit, v)
    if op == "ne":
        return not _equal(kind, lit, v)
    if op in ("gt", "ge", "lt", "le"):
        return isnum and {"gt": v > lit, "ge": v >= lit, "lt": v < lit, "le": v <= lit}[op]
    if op in ("match", "nomatch"):
        t = _text(v)
        if t is None:
            return False
        return bool(lit.search(t)) == (op == "match")
    if op == "contains":
        if isinstance(v, list):
            return any(_equal(kind, lit, c) for c in v)
        if isinstance(v, str):
            return (lit if kind == "string" else littext) in v
        if isinstance(v, dict):
            return kind == "string" and lit in v
        return False
    return op == "exists"


def _wanted(op, littext, v):
    isnum = isinstance(v, (int, float)) and not isinstance(v, bool)
    return {
        "eq": littext, "ne": "anything but " + littext,
        "match": "a match of " + littext, "nomatch": "no match of " + littext,
        "contains": "something that contains " + littext,
    }.get(op) or ("%s%s %s" % ("" if isnum else "a number ",
                               {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}.get(op, ""),
                               littext) if op != "exists" else "it to exist")


def _load(text):
    if text.strip(" \t\r\n") == "":
        raise JsonPathError("body is empty, not JSON")
    try:
        return json.loads(text)
    except ValueError as e:
        raise JsonPathError("body is not JSON at byte %d" % getattr(e, "pos", 0))


def check(expr, body):
    """(True, None) if the assertion holds for the JSON text body, else (False, reason)."""
    try:
        text, pstart, pend, segs, op, kind, lit, littext = parse(expr)
        root = _load(body)
    except JsonPathError as e:
        return False, str(e)
    cur = [root]
    for i, (sk, a, b, end) in enumerate(segs):
        nxt = []
        for v in cur:
            v = _inner(v)
            if sk == "name" and isinstance(v, dict) and a in v:
                nxt.append(v[a])
            elif sk == "index" and isinstance(v, list) and -len(v) <= a < len(v):
                nxt.append(v[a])
            elif sk == "any" and isinstance(v, (list, dict)):
                nxt.extend(v if isinstance(v, list) else v.values())
            elif sk == "filter" and isinstance(v, list):
                nxt.extend(c for c in v if isinstance(c, dict) and a in c and
                           _filter_match(c[a], b))
        if not nxt:
            before = text[pstart:(segs[i - 1][3] if i else pstart + 1)]
            upto = text[pstart:end]
            if len(cur) != 1:
                return False, "%s selects nothing (none of the %d values of %s has it)" % (
                    upto, len(cur), before)
            v = _inner(cur[0])
            if sk == "name":
                return False, ("%s is missing" % upto if isinstance(v, dict) else
                               "%s is %s, not an object (looking for %s)" % (before, _kind(v), upto))
            if sk == "index" and isinstance(v, list):
                return False, "%s has %d element%s, so no [%d]" % (
                    before, len(v), "" if len(v) == 1 else "s", a)
            if sk == "any" and isinstance(v, (list, dict)):
                return False, "%s is empty" % before
            if sk == "filter" and isinstance(v, list):
                return False, "no element of %s has %s=%s" % (before, a, b)
            return False, "%s is %s, not an array" % (before, _kind(v))
        cur = nxt
    if any(_holds(op, kind, lit, littext, v) for v in cur):
        return True, None
    path = text[pstart:pend]
    if len(cur) == 1:
        return False, "%s is %s, wanted %s" % (path, _show(cur[0]), _wanted(op, littext, cur[0]))
    return False, "none of the %d values of %s is %s (the first is %s)" % (
        len(cur), path, _wanted(op, littext, cur[0]), _show(cur[0]))
