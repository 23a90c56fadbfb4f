"""Discord's documented limits on application commands and messages, as the stand-in enforces them: a payload
that breaks one is refused with the field errors of Discord's ``400 Invalid Form Body (50035)``."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Union

from .protocol import FLAG_COMPONENTS_V2, OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP, _field_error
from .records import _iter_components

_COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")


def validate_commands(commands: List[Any]) -> dict:
    errors: Dict[str, Any] = {}
    if sum(1 for c in commands if isinstance(c, dict) and c.get("type", 1) == 1) > 100:
        errors["_errors"] = [{"code": "APPLICATION_COMMANDS_TOO_MANY", "message": "Maximum number of application commands reached (100)"}]
    seen = set()
    for i, cmd in enumerate(commands):
        e = _validate_command(cmd, top=True)
        if isinstance(cmd, dict):
            key = (cmd.get("name"), cmd.get("type", 1))
            if key in seen:
                e.setdefault("name", _field_error("APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {key[0]}"))
            seen.add(key)
        if e:
            errors[str(i)] = e
    return errors


def _validate_command(cmd: Any, *, top: bool) -> dict:
    e: Dict[str, Any] = {}
    if not isinstance(cmd, dict):
        return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}
    name = cmd.get("name", "")
    ctype = cmd.get("type", 1) if top else 1
    if not isinstance(name, str) or not name:
        e["name"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
    elif ctype == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
        e["name"] = _field_error("APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
    elif len(name) > 32:
        e["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    desc = cmd.get("description", "")
    if ctype == 1 and not (1 <= len(desc or "") <= 100):
        e["description"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    options = cmd.get("options") or []
    if len(options) > 25:
        e["options"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names = set()
    for i, opt in enumerate(options):
        oe = _validate_command(dict(opt, type=1) if isinstance(opt, dict) else opt, top=False)
        if isinstance(opt, dict):
            if opt.get("name") in names:
                oe.setdefault("name", _field_error("APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"))
            names.add(opt.get("name"))
            if opt.get("type") not in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
                if opt.get("required"):
                    if seen_optional:
                        oe.setdefault("required", _field_error("APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options"))
                else:
                    seen_optional = True
            if len(opt.get("choices") or []) > 25:
                oe.setdefault("choices", _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        if oe:
            e.setdefault("options", {})[str(i)] = oe
    return e


def validate_message(body: dict, *, partial: bool, allow_flags: int) -> Union[dict, str, None]:
    e: Dict[str, Any] = {}
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        e["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        e["embeds"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, emb in enumerate(embeds):
        ee: Dict[str, Any] = {}
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            v = emb.get(key) or ""
            total += len(v)
            if len(v) > limit:
                ee[key] = _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        fields = emb.get("fields") or []
        if len(fields) > 25:
            ee["fields"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            fe: Dict[str, Any] = {}
            fname, fvalue = str(f.get("name") or ""), str(f.get("value") or "")
            total += len(fname) + len(fvalue)
            if not 1 <= len(fname) <= 256:
                fe["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 256 in length.")
            if not 1 <= len(fvalue) <= 1024:
                fe["value"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1024 in length.")
            if fe:
                ee.setdefault("fields", {})[str(j)] = fe
        footer = (emb.get("footer") or {}).get("text") or ""
        author = (emb.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            ee["footer"] = {"text": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")}
        if len(author) > 256:
            ee["author"] = {"name": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")}
        if ee:
            e.setdefault("embeds", {})[str(i)] = ee
    if total > 6000:
        e.setdefault("embeds", {})["_errors"] = [{"code": "MESSAGE_EMBEDS_TOO_LONG", "message": "Embed size exceeds maximum size of 6000"}]
    flags = int(body.get("flags") or 0)
    if flags & ~allow_flags:
        e["flags"] = _field_error("MESSAGE_INVALID_FLAGS", f"Invalid flags {flags & ~allow_flags}")
    components = body.get("components") or []
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    if not v2 and len(components) > 5:
        e["components"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    custom_ids: List[str] = []
    for i, row in enumerate(components):
        if not v2:
            if row.get("type") != 1:
                e.setdefault("components", {})[str(i)] = _field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level components must be action rows")
                continue
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                e.setdefault("components", {})[str(i)] = {"components": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")}
        for c in _iter_components([row]):
            if c.get("type") == 2:
                if len(c.get("label") or "") > 80:
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "Button label must be 80 or fewer in length.")
                if c.get("style") in (5, 6):
                    if c.get("custom_id"):
                        e.setdefault("components", {})[str(i)] = _field_error("COMPONENT_INVALID", "Link/premium buttons cannot have a custom_id")
                elif not c.get("custom_id"):
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_REQUIRED", "custom_id is required")
            if c.get("custom_id") is not None:
                cid = str(c["custom_id"])
                if len(cid) > 100:
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer in length.")
                custom_ids.append(cid)
    if len(custom_ids) != len(set(custom_ids)):
        e.setdefault("components", {})["_errors"] = [{"code": "COMPONENT_CUSTOM_ID_DUPLICATED", "message": "Component custom id cannot be duplicated"}]
    if e:
        return e
    if not partial:
        has_content = bool(content) or bool(embeds) or bool(components) or bool(body.get("attachments")) or bool(body.get("sticker_ids")) or bool(body.get("poll"))
        if not has_content:
            return "empty"
    return None
