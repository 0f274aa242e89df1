"""Configuration errors as one line each: the full key, the value given, what is accepted, and
the `pulumi config` command that fixes it.

A small engine any Pulumi project can reuse with its own pydantic section models
(`parse_sections`; examples/consumer does): it knows nothing of this stack's keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from pulumi.errors import RunError
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError


class ConfigError(RunError):
    """Invalid stack configuration: one line per problem, each naming its full key. A RunError,
    so Pulumi prints the message without a traceback; tools recognise it by its type."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
        super().__init__(
            f"invalid configuration ({count}); nothing was deployed:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def problem(key: str, message: str, fix: str) -> str:
    """One problem line: `<full key>: <message>. Fix: <command>`."""
    return f"{key}: {message}. Fix: {fix}"


def model_problem(message: str, **context: Any) -> PydanticCustomError:
    """A rule inside a model that names the key it belongs to (context['key'], relative to the
    model), the value in `{got}`, and optionally the value to set (context['fix'])."""
    return PydanticCustomError("config_problem", message, context)


# A message quotes at most this much of a value, on one line.
EXCERPT_CHARACTERS = 60


def excerpt(value: Any) -> str:
    """A value as JSON on one line (control and invisible characters escaped), cut short."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = json.dumps(str(value), ensure_ascii=True)
    if len(text) <= EXCERPT_CHARACTERS:
        return text
    return f"{text[: EXCERPT_CHARACTERS - 1]}… ({len(text)} characters)"


def _shown(value: Any, secret: bool) -> str:
    return SECRET_MASK if secret else excerpt(value)


SECRET_MASK = "[secret]"
MASKED_SHORTEST = 3  # shorter values ("a", "42") are not searched for: they are everywhere


def secret_values(
    given: Mapping[str, Mapping[str, Any]], secret_sections: Iterable[str]
) -> set[str]:
    """The text of every value (strings, numbers) set in the secret sections."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if len(text) >= MASKED_SHORTEST:
                found.add(text)

    for section in secret_sections:
        walk(given.get(section, {}))
    return found


def masked(message: str, secrets: set[str]) -> str:
    """A message with every secret value in it replaced by the mask, longest first (so that a
    value containing another is masked whole)."""
    for value in sorted(secrets, key=len, reverse=True):
        message = message.replace(value, SECRET_MASK)
    return message


def _is_secret_field(field: FieldInfo | None) -> bool:
    extra = field.json_schema_extra if field is not None else None
    return isinstance(extra, dict) and extra.get("secret") is True


def _fix(full_key: str, field: FieldInfo | None) -> str:
    if _is_secret_field(field):
        return f'pulumi config set --secret --path {full_key} "$(cat kubeconfig)"'
    default = getattr(field, "default", None)
    if isinstance(default, str):
        example = default
    elif isinstance(default, (bool, int)):
        example = json.dumps(default)
    else:
        example = "<value>"
    return f"pulumi config set --path {full_key} {example}"


def model_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key a user writes (the alias)."""
    return {field.alias or name: field for name, field in model.model_fields.items()}


def nested_model(field: FieldInfo) -> type[BaseModel] | None:
    for candidate in (field.annotation, *get_args(field.annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _walk(
    model: type[BaseModel], loc: list[str]
) -> tuple[type[BaseModel], FieldInfo | None, list[str], list[str]]:
    """Follow an error location through nested models: (the model holding the last key, that
    key's field, the keys walked, what is left: a map entry such as one annotation)."""
    owner, field, keys, rest = model, None, [], list(loc)
    while rest:
        part = rest.pop(0)
        keys.append(part)
        field = model_fields(owner).get(part)
        nested = nested_model(field) if field is not None else None
        if nested is None:
            break
        owner = nested
    return owner, field, keys, rest


def _error_line(project: str, section: str, model: type[BaseModel], err: Any, secret: bool) -> str:
    loc = [str(part) for part in err["loc"]]
    if err["type"] == "config_problem":  # a rule of the model names its key itself
        loc += err["ctx"]["key"].split(".")
    owner, field, keys, entry = _walk(model, loc)
    full_key = f"{project}:{section}" + "".join(f".{key}" for key in keys)
    if err["type"] == "extra_forbidden":  # its value is never quoted: it may be a credential
        accepted = ", ".join(model_fields(owner))
        return (
            f"{full_key}: unknown key; accepted keys: {accepted}. "
            f"Fix: pulumi config rm --path {full_key}"
        )
    if field is None:  # a model-wide error that names no key: pydantic's own words
        return f"{full_key}: {err['msg']}"
    if err["type"] == "missing":
        return problem(
            full_key,
            f"not set; expected {field.description}",
            f"pulumi config set --path {full_key} <value>",
        )
    if err["type"] == "config_problem":
        fix = err["ctx"].get("fix", "<value>")
        return problem(full_key, err["msg"], f"pulumi config set --path {full_key} {fix}")
    if entry:  # an entry of a map, such as one service annotation
        entry_key = f'{full_key}["{entry[0]}"]'
        what = "key" if entry[-1] == "[key]" else "value"
        return (
            f"{entry_key}: invalid {what} (got {_shown(err['input'], secret)}); expected "
            f"{field.description}. Fix: pulumi config rm --path '{entry_key}'"
        )
    given = _shown(err["input"], secret or _is_secret_field(field))
    if err["type"] == "value_error":  # a validator of ours says why
        given += f" ({err['ctx']['error']})"
    elif err["type"] == "string_type" and type(err["input"]) in (int, float):
        given += " (a YAML number: quote it in the stack file, as YAML reads 1.30 as 1.3)"
    return problem(full_key, f"got {given}; expected {field.description}", _fix(full_key, field))


def parse_sections(
    project: str,
    raw: Mapping[str, Any],
    models: Mapping[str, type[BaseModel]],
    context: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    other_keys: Iterable[str] = (),
) -> tuple[dict[str, Any], dict[str, Mapping[str, Any]], list[str]]:
    """Parse a project's object-valued keys (`raw`: key without the `<project>:` prefix ->
    the CLI's string) with one model each. Returns the parsed sections, what the user set in
    each, and one message per problem; a key in neither `models` nor `other_keys` is a problem."""
    problems: list[str] = []
    sections: dict[str, Any] = {}
    given: dict[str, Mapping[str, Any]] = {}
    known = [*models, *other_keys]
    for key in sorted(set(raw) - set(known)):
        problems.append(
            f"{project}:{excerpt(key)[1:-1]}: unknown key; accepted keys: "
            + ", ".join(f"{project}:{k}" for k in known)
            + f". Fix: pulumi config rm {project}:{key}"
        )
    for section, model in models.items():
        full_key = f"{project}:{section}"
        secret = full_key in secret_keys
        value = raw.get(section, "{}")
        try:
            data = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            data = value
        if not isinstance(data, dict):
            problems.append(
                f"{full_key}: got {_shown(data, secret)}; expected an object of settings. "
                f"Fix: pulumi config rm {full_key}, "
                f"then pulumi config set --path {full_key}.<field> <value>"
            )
            continue
        given[section] = data
        try:
            # Keys as users write them (camelCase): `service_name` is an unknown key.
            sections[section] = model.model_validate(
                data, context=context, by_alias=True, by_name=False
            )
        except ValidationError as error:
            problems += [
                _error_line(project, section, model, err, secret) for err in error.errors()
            ]
    return sections, given, problems
