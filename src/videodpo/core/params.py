"""What every params section is built on: the section base class, the error that names a bad key and
its fix, and the one constructor that turns a section into what an algorithm receives.

A section's pydantic class is the one place that holds its keys' defaults and checks; it lives beside
the code that owns the section (a method's module, the toy world, the rewards). The code that runs
an algorithm takes a plain dataclass built from the section by `built_from`, never a copy made field
by field and never a second default.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """A params.yaml value is missing or not allowed; the message names the key and the fix."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def refusing(problem_of) -> AfterValidator:
    """A field check that raises what `problem_of(value)` finds wrong (the params error names the key)."""

    def check(value):
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


def error_lines(error: ValidationError, section: str = "") -> str:
    """pydantic's errors as params errors, one a line: each key (within `section`, if given), what is
    wrong, and the value given."""
    lines = []
    for item in error.errors():
        key = ".".join([section, *map(str, item["loc"])] if section else map(str, item["loc"])) or "(top level)"
        if item["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check its spelling and section)")
        elif isinstance(item.get("input"), (dict, list)):
            lines.append(f"{key}: {item['msg']}")
        else:
            lines.append(f"{key}: {item['msg']} (got {item.get('input')!r})")
    return "\n  ".join(lines)


def format_errors(error: ValidationError) -> str:
    """pydantic's errors as one params error (error_lines under a heading)."""
    return "params.yaml is not valid:\n  " + error_lines(error)


def built_from(kind: type, *sections: BaseModel, **given: Any):
    """The dataclass `kind` with each field taken by name from `given`, else from the first of
    `sections` that has it. A field found nowhere is a TypeError: the dataclass has no defaults of its
    own, so a setting cannot be given twice."""
    values = {}
    for field in dataclasses.fields(kind):
        if field.name in given:
            values[field.name] = given[field.name]
            continue
        holder = next((section for section in sections if field.name in type(section).model_fields), None)
        if holder is None:
            raise TypeError(f"{kind.__name__}.{field.name}: in no section given ({', '.join(type(s).__name__ for s in sections)}) and not passed")
        values[field.name] = getattr(holder, field.name)
    unknown = set(given) - {field.name for field in dataclasses.fields(kind)}
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {', '.join(sorted(unknown))}")
    return kind(**values)
