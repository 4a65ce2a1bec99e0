"""Exceptions across the wire: an exception becomes a failure record and back.

The record is oslo.messaging's JSON object (class, module, message, tb, args,
kwargs). A client rebuilds the exception as ``cls(*args, **kwargs)`` only for
builtins, for our own ``aionova.rpc.errors`` and for modules the transport
allows; the remote traceback is attached as a note (no ``__class__``
swapping). Anything else becomes ``RemoteError``.

Our errors travel with the module name ``aionova.rpc.errors``; peers running
the layout before the library was namespaced send ``rpc.errors``, which names
the same classes and is rebuilt from this package (never imported as ``rpc``).
"""

from __future__ import annotations

import builtins
import importlib
import logging
import sys
import traceback
from collections.abc import Iterable
from typing import Any

import msgspec
from aionova.rpc._envelope import DECODE_FAILURES
from aionova.rpc.errors import RemoteError

LOG = logging.getLogger(__name__)

_REMOTE = "_Remote"
_OWN_ERRORS = "aionova.rpc.errors"
#: Module names on the wire that mean a module of ours (older names, Python 2's).
_MODULE_ALIASES = {"exceptions": "builtins", "rpc.errors": _OWN_ERRORS}
_ALWAYS_ALLOWED = frozenset({"builtins", _OWN_ERRORS})


class Failure(msgspec.Struct, omit_defaults=False):
    """The failure record, field names as oslo.messaging sends them."""

    cls: str = msgspec.field(name="class")
    module: str
    message: str
    tb: list[str] = []
    args: list[Any] = []
    kwargs: dict[str, Any] = {}


_encoder = msgspec.json.Encoder(enc_hook=repr)
_decoder = msgspec.json.Decoder(Failure)


def serialize(exc: BaseException) -> str:
    """The failure record of ``exc`` as a JSON string (it travels as a string)."""
    cls_name, module = type(exc).__name__, type(exc).__module__
    if cls_name.endswith(_REMOTE) and module.endswith(_REMOTE):
        cls_name, module = cls_name[: -len(_REMOTE)], module[: -len(_REMOTE)]
    kwargs = getattr(exc, "kwargs", None)
    record = Failure(
        cls=cls_name,
        module=module,
        message=_message_of(exc),
        tb=traceback.format_exception(type(exc), exc, exc.__traceback__),
        args=list(exc.args),
        kwargs=kwargs if isinstance(kwargs, dict) else {},
    )
    try:
        return _encoder.encode(record).decode()
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError) as err:
        # Arguments that cannot travel (too deep, out of range): the caller still
        # gets the class and the message, so it does not wait for a timeout.
        LOG.warning("%s.%s: arguments dropped from the failure: %s", module, cls_name, err)
        record.args, record.kwargs = [], {}
        return _encoder.encode(record).decode()


def _message_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception as err:  # a __str__ that fails (or arguments nested too deep)
        LOG.warning("str() of a %s failed: %s: %s", type(exc).__name__, type(err).__name__, err)
        return f"<{type(exc).__name__}: str() failed: {type(err).__name__}>"


def deserialize(data: str | bytes, allowed_modules: Iterable[str] = ()) -> Exception:
    """Rebuild the exception a failure record describes, or a ``RemoteError``."""
    try:
        record = _decoder.decode(data)
    except DECODE_FAILURES as exc:
        return RemoteError(
            "UnknownFailure", f"undecodable failure record: {type(exc).__name__}: {exc}", []
        )
    module = _MODULE_ALIASES.get(record.module, record.module)
    if module not in _ALWAYS_ALLOWED and module not in allowed_modules:
        return RemoteError(record.cls, record.message, record.tb)
    try:
        klass = _find_class(module, record.cls)
        rebuilt = klass(*record.args, **record.kwargs)
    except Exception as err:  # a constructor may reject the recorded arguments
        LOG.warning("cannot rebuild remote %s.%s: %s", module, record.cls, err)
        return RemoteError(record.cls, record.message, record.tb)
    rebuilt.add_note("Remote traceback:\n" + "".join(record.tb))
    return rebuilt


def _find_class(module: str, name: str) -> type[Exception]:
    if module == "builtins":
        klass = getattr(builtins, name)
    else:
        mod = sys.modules.get(module) or importlib.import_module(module)
        klass = getattr(mod, name)
    if not (isinstance(klass, type) and issubclass(klass, Exception)):
        raise TypeError(f"{module}.{name} is not an Exception")
    return klass
