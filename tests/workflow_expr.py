"""GitHub Actions expressions (``${{ ... }}`` and ``if:``) for the workflow harness: a small evaluator.

Supports literals, context paths (``a.b``, ``a['b']``, ``a.*`` not), ``!``, ``==``, ``!=``, ``<``, ``>``,
``&&``, ``||``, parentheses and the functions success(), failure(), always(), cancelled(), contains(),
startsWith(), endsWith(), format(), toJSON(), fromJSON() and hashFiles(). Anything else raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success(", "failure(", "always(", "cancelled(")


class ExpressionError(ValueError):
    pass


def tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot parse expression at {text[pos:]!r} in {text!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "", 0.0)


def _loose(value: Any) -> Any:
    """GitHub compares case-insensitively and coerces numbers and strings."""
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else 0.0
        except ValueError:
            return value.lower()
    if isinstance(value, bool):
        return float(value)
    return value


class Evaluator:
    """Evaluates one expression against ``contexts`` (github, env, secrets, vars, steps, needs, inputs...)."""

    def __init__(self, contexts: dict[str, Any], functions: dict[str, Callable[..., Any]]):
        self.contexts = contexts
        self.functions = {
            "contains": lambda a, b: (
                (str(b).lower() in str(a).lower())
                if not isinstance(a, list)
                else any(_loose(x) == _loose(b) for x in a)
            ),
            "startswith": lambda a, b: str(a).lower().startswith(str(b).lower()),
            "endswith": lambda a, b: str(a).lower().endswith(str(b).lower()),
            "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: str(a[int(m.group(1))]), f),
            "tojson": lambda a: json.dumps(a, indent=2),
            "fromjson": lambda a: json.loads(a),
            **{k.lower(): v for k, v in functions.items()},
        }

    def evaluate(self, text: str) -> Any:
        self.toks, self.i = tokens(text), 0
        value = self._or()
        if self.i != len(self.toks):
            raise ExpressionError(f"unexpected {self.toks[self.i][1]!r} in {text!r}")
        return value

    def _peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise ExpressionError("unexpected end of expression")
        tok = self.toks[self.i]
        if expected is not None and tok[1] != expected:
            raise ExpressionError(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            left = right if truthy(left) else left
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!=", "<", ">", "<=", ">="):
            op = self._take()[1]
            right = self._unary()
            a, b = _loose(left), _loose(right)
            if op in ("==", "!="):
                left = (a == b) == (op == "==")
            else:
                left = {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            return self._call(text)
        value = self.contexts.get(text)
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = self._or()
                self._take("]")
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _call(self, name: str) -> Any:
        self._take("(")
        args = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        function = self.functions.get(name.lower())
        if function is None:
            raise ExpressionError(f"the harness does not know the function {name}()")
        return function(*args)


def substitute(text: str, evaluator: Evaluator) -> str:
    """Replace every ``${{ expr }}`` in ``text`` with the expression's value as a string."""

    def one(m: re.Match) -> str:
        value = evaluator.evaluate(m.group(1))
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text, flags=re.S)


def condition(text: str | bool | None, evaluator: Evaluator) -> bool:
    """An ``if:``: ``success() && (...)`` unless it names a status function itself."""
    if text is None:
        text = "success()"
    if isinstance(text, bool):
        return text
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if not any(f in text.replace(" ", "") for f in STATUS_FUNCTIONS):
        text = f"success() && ({text})"
    return truthy(evaluator.evaluate(text))
