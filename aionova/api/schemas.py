"""Request bodies as msgspec types: decoding is validation (a mismatch is a 400)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from aionova.api.faults import bad_request

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Ref = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Password = Annotated[str, msgspec.Meta(max_length=255)]
Count = Annotated[int, msgspec.Meta(ge=1, le=1000)]
Metadata = Annotated[
    dict[
        Annotated[str, msgspec.Meta(min_length=1, max_length=255)],
        Annotated[str, msgspec.Meta(max_length=255)],
    ],
    msgspec.Meta(max_length=128),
]
Description = Annotated[str, msgspec.Meta(max_length=255)]
HostName = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^[^\s/]+$")]


class Network(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    uuid: str | None = None
    port: str | None = None
    fixed_ip: str | None = None
    tag: str | None = None


class BlockDevice(msgspec.Struct, kw_only=True):
    uuid: str | None = None
    source_type: str | None = None
    destination_type: str | None = None
    boot_index: int | str | None = None
    delete_on_termination: bool = False
    volume_size: int | None = None


class ServerCreate(msgspec.Struct, kw_only=True):
    """``{"server": {...}}`` of POST /servers; unknown keys are ignored (clients vary)."""

    name: Name
    imageRef: str = ""
    flavorRef: Ref | int
    min_count: Count = 1
    max_count: Count | None = None
    networks: Literal["auto", "none"] | list[Network] | None = None
    block_device_mapping_v2: list[BlockDevice] | None = None
    adminPass: Password | None = None
    metadata: Metadata = {}
    availability_zone: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    key_name: str | None = None
    user_data: str | None = None
    description: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    security_groups: list[dict[str, str]] | None = None
    config_drive: bool | str | None = None


class Reboot(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(max_length=10)]


class Rebuild(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    imageRef: Ref
    adminPass: Password | None = None
    name: Name | None = None
    metadata: Metadata | None = None
    preserve_ephemeral: bool = False
    description: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    key_name: str | None = None
    user_data: str | None = None
    accessIPv4: str | None = None
    accessIPv6: str | None = None
    personality: list[dict[str, str]] | None = None
    OS_DCF_diskConfig: Literal["AUTO", "MANUAL"] | None = msgspec.field(
        default=None, name="OS-DCF:diskConfig"
    )


class ServerUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"server": {...}}`` of PUT /servers/{id}: Nova's schema (additionalProperties
    false). ``description`` exists from 2.19 (the handler gates it); UNSET = not sent."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    accessIPv4: str | msgspec.UnsetType = msgspec.UNSET
    accessIPv6: str | msgspec.UnsetType = msgspec.UNSET
    OS_DCF_diskConfig: Literal["AUTO", "MANUAL"] | msgspec.UnsetType = msgspec.field(
        default=msgspec.UNSET, name="OS-DCF:diskConfig"
    )


class Evacuate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: HostName | None = None
    onSharedStorage: bool | None = None
    adminPass: Password | None = None
    force: bool | None = None


class ServiceUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PUT /os-services/{uuid} (2.53+)."""

    status: Literal["enabled", "disabled"] | None = None
    disabled_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    forced_down: bool | None = None


class ServiceForceDown(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PUT /os-services/force-down (2.11–2.52)."""

    host: HostName
    binary: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    forced_down: bool


class ServiceHostBinary(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """PUT /os-services/enable|disable|disable-log-reason (before 2.53)."""

    host: HostName
    binary: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    disabled_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None


T = TypeVar("T")


def convert(value: Any, cls: type[T], what: str) -> T:
    """``value`` as ``cls``, or a 400 that names the problem."""
    if not isinstance(value, dict):
        raise bad_request(f"Invalid input for field/attribute {what}: must be an object.")
    try:
        return msgspec.convert(value, cls, strict=True)
    except msgspec.ValidationError as exc:
        raise bad_request(f"Invalid input for field/attribute {what}. Value: {exc}") from None


# Nova's deepest request body nests 5 levels; JSON deeper than this is refused before
# decoding (a 1,000-level body used to end in a RecursionError, a 500).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``raw`` nests arrays/objects deeper than ``limit``, at C speed: strings
    are removed, then the innermost ``[]``/``{}`` pairs, one level per round."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if re.search(rb"[\[{]{%d}" % (limit + 1), brackets):  # the usual shape: one long run
        return True
    for _ in range(limit):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if not shorter or shorter == brackets:  # balanced within the limit, or not JSON
            return False
        brackets = shorter
    return True


def decode_json(raw: bytes) -> Any:
    """The request body as JSON; a 400 when it is empty, not JSON, or nested too deep.
    (The body's size is bounded by ``[api] max_body_bytes``: a 413 before this.)"""
    if not raw:
        raise bad_request("Malformed request body: the body is empty.")
    if json_depth_exceeds(raw):
        raise bad_request(f"Malformed request body: nested deeper than {MAX_JSON_DEPTH} levels.")
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise bad_request("Malformed request body: it is not valid JSON.") from None


def _printable(char: str) -> bool:
    """Nova's printable characters: no control/format (C*) and no separator but spaces (Zs)."""
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def check_name(value: str, what: str = "name") -> str:
    """Nova's ``name`` format: printable, no leading or trailing whitespace (else a 400)."""
    if not all(_printable(c) for c in value):
        raise bad_request(f"Invalid input for field/attribute {what}: unprintable characters.")
    if value != value.strip():
        raise bad_request(
            f"Invalid input for field/attribute {what}. Value: {value[:40]!r}. "
            "Leading or trailing whitespace is not allowed."
        )
    return value


def check_description(value: str | None, what: str = "description") -> str | None:
    """Nova's ``description``: null, or up to 255 printable characters (else a 400)."""
    if value is not None and not all(_printable(c) for c in value):
        raise bad_request(f"Invalid input for field/attribute {what}: unprintable characters.")
    return value


def check_ip(value: str, version: int, what: str) -> str:
    """An IPv4 / IPv6 address in text form (else a 400)."""
    kind = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    try:
        kind(value)
    except ValueError:
        raise bad_request(
            f"Invalid input for field/attribute {what}. Value: {value[:60]!r} "
            f"is not a valid IPv{version} address."
        ) from None
    return value
