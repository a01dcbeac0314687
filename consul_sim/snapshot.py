"""World snapshots: a whole world as bytes, and back.

A snapshot holds what the world *is*: every cluster's store (catalog, KV and its tombstones,
sessions, config entries, peerings and their secrets, the Connect CA with its keys), the raft
indexes, the stream trackers and their timers, the network's queues, links and journal, the
clock, and the state of every seeded random source, so a restored world answers every read as
the original did and takes the very same next steps. It leaves out what belongs to the process
rather than the world, and the process that restores it makes those anew: the world lock (one
fresh ``RLock``, shared again by every store), the front door with its event-loop thread and
apps, HTTP clients, the network's link to other processes, and blocked readers.

The format is ``pickle`` behind a header (a magic line, then one JSON line naming the package
version, the format number and the clusters). A data format (JSON of every table) was the
alternative; it was not chosen because the state includes the scheduler's pending timers, whose
callbacks are the domain's own bound methods, and the seeded generators' internal state: a
hand-written schema for all of it would be a second model of the domain that drifts from the
first, while pickle follows the objects as they are. The cost is trust: **loading a snapshot
runs pickle, which can run arbitrary code, so restore only snapshots you (or a process you
trust) made** - as with a Consul snapshot, it is an operator's file, not user input. The
header is checked before pickle sees a byte, so a file that is not a snapshot, or one made by
another version of consul-sim (whose classes may differ), is refused with a ``ValueError``.

Three things make the bytes depend on the state alone, so snapshot -> restore -> snapshot is
byte for byte and two worlds that took the same steps have the same snapshot: strings are
written by value (a table of distinct strings first, then references to it: pickle's own memo
goes by object identity, and which equal strings are one object depends on Python's interning,
which a restored world does not share), sets are written sorted (their order depends on their
history), and the world and its lock are written as references to whatever world loads the
snapshot. That last one is also how a world is reset or replaced *in place*: the loaded state
points at the very world object that loads it, so ``cluster.world`` and a server's apps keep
pointing at the live world.

Speed (a snapshot and a restore of two clusters sharing 1,000 services is a test fixture's
cost, ``benchmarks/toolkit.py``): the string numbering is a ``persistent_id`` hook the pickler
calls for *every* object it writes, strings or not, so the cost follows the number of objects,
and the layout keeps that number down. The network journal, thousands of small lines, packs
itself into one blob (:meth:`consul_sim.journal.Journal.__getstate__`); a store record is one
reference to a maker of its class and one flat tuple of its values and fields-set; the cyclic
collector is off while the pickler runs, and the pickler's memo (which holds every temporary it
made) is emptied before the collector comes back, so it finds nothing new to walk.
"""

from __future__ import annotations

import copyreg
import functools
import gc
import importlib
import io
import json
import operator
import pickle
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MethodType
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel

from consul_sim import __version__
from consul_sim.scheduler import Timer

if TYPE_CHECKING:
    from consul_sim.world import World

MAGIC = b"consul-sim snapshot\n"
FORMAT = 3
"""Bumped whenever the pickled layout changes; a snapshot of another format is refused."""

_loading = threading.local()
"""The world and lock a snapshot being loaded on this thread binds its references to."""


def _the_world() -> World:
    world: World = _loading.world
    return world


def _the_lock() -> threading.RLock:
    lock: threading.RLock = _loading.lock
    return lock


def _ref(name: str) -> object:
    """A part's reference to an object of the live world (see :func:`load_part`)."""
    refs: Mapping[str, object] = _loading.refs
    return refs[name]


def _dead_timer(when: float, seq: int) -> Timer:
    """A part's timer: cancelled, with no callback (the restoring side arms its own)."""
    return Timer(when, seq, _nothing, cancelled=True)


def _nothing(*_: object) -> None:
    """What a part holds in place of a bound method (a timer's callback, a hint)."""
    return None


def _ec_key(private_value: int, curve: str) -> ec.EllipticCurvePrivateKey:
    """An EC private key from its number: cryptography's keys do not pickle themselves."""
    curves: dict[str, type[ec.EllipticCurve]] = {
        "secp256r1": ec.SECP256R1,
        "secp384r1": ec.SECP384R1,
    }
    return ec.derive_private_key(private_value, curves[curve]())


def _set_dict(obj: Any, state: dict[str, Any]) -> None:
    """Give a loaded object the very dict the snapshot holds. Pickle's default would copy the
    attributes in, interning their names; then a name would be Python's own string where the
    snapshot had it shared with other strings of that value, and a second snapshot of the
    restored world would differ from the first. Assigned whole, every string comes back
    shared exactly as it was written, so snapshot -> restore -> snapshot is byte for byte."""
    object.__setattr__(obj, "__dict__", state)


_SETS = (set, frozenset)
"""A dict of the state whose first value is a set is taken for a dict of sets (the domain's
dicts hold one kind of value each)."""


class _SortedSet:
    """A set written in sorted order: a set's iteration order depends on its history (what
    was added and removed), which a restored set does not share, so written as iterated a
    restored world's snapshot would differ from the original's."""

    __slots__ = ("items", "kind")

    def __init__(self, items: set[Any] | frozenset[Any]) -> None:
        self.kind = type(items)
        try:
            self.items = sorted(items)
        except TypeError:
            self.items = sorted(items, key=repr)

    def __reduce__(self) -> tuple[Any, ...]:
        return self.kind, (self.items,)


def _sorted_sets(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with its sets, and the sets a dict of it holds, written sorted. Only the
    attributes of consul-sim's own objects are looked at (the pickler cannot be told how to
    write a plain set): every set of the state is one, or a dict's value in one."""
    out: dict[str, Any] | None = None
    for key, value in state.items():
        kind = type(value)
        if kind is set or kind is frozenset:
            replaced: Any = _SortedSet(value)
        elif kind is dict and value and type(next(iter(value.values()))) in _SETS:
            replaced = {
                k: _SortedSet(v) if type(v) is set or type(v) is frozenset else v
                for k, v in value.items()
            }
        else:
            continue
        if out is None:
            out = dict(state)
        out[key] = replaced
    return state if out is None else out


_OBJECT_REDUCE_EX: Any = object.__reduce_ex__
_OBJECT_REDUCE: Any = object.__reduce__
_NEWOBJ: Any = copyreg.__newobj__  # type: ignore[attr-defined]  # pickle writes it as NEWOBJ

_OTHER, _PLAIN, _OWN_STATE, _FIELDS, _MODEL = 0, 1, 2, 3, 4
"""How the pickler writes an object of a class: as pickle would, from its ``__dict__``, or
through the class's own ``__getstate__``/``__setstate__`` (pydantic models, the network), or
as a call with its fields (a slotted dataclass), or as a pydantic model's field values in field
order (the store's thousands of records: their field names, written once per record, were half
of a snapshot's strings)."""


def _model(cls: type[BaseModel], names: tuple[str, ...], *values_then_set: Any) -> BaseModel:
    """A pydantic model as its ``__setstate__`` would make it, from its values in field order
    followed by its fields-set (a model with extra or private attributes is written pydantic's
    own way instead). Values and set are one flat tuple: one object fewer per record."""
    obj = _object_new(cls)
    # zip stops at the last name, before the fields-set
    _setattr(obj, "__dict__", dict(zip(names, values_then_set, strict=False)))
    _setattr(obj, "__pydantic_fields_set__", set(values_then_set[-1]))
    _setattr(obj, "__pydantic_extra__", None)
    _setattr(obj, "__pydantic_private__", None)
    return obj


_object_new = object.__new__
_setattr = object.__setattr__


def _string_numbers(strings: dict[str, int]) -> Callable[[Any], int | None]:
    """The pickler's ``persistent_id``: a string's number in ``strings`` (numbered as first
    met), None for anything else. A closure rather than a method: it runs for every object
    written, a couple of hundred thousand times for a thousand services."""
    get = strings.get
    str_ = str

    def number(obj: Any) -> int | None:
        if obj.__class__ is str_:
            found: int | None = get(obj)
            if found is None:
                found = strings[obj] = len(strings)
            return found
        return None

    return number


class _Pickler(pickle.Pickler):
    """Writes strings by number, the world and its lock as references, the objects of
    consul-sim's own classes with their sets sorted, and the rest as pickle does."""

    def __init__(
        self, file: io.BytesIO, world: World | None, refs: Mapping[int, str] | None = None
    ) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._world = world
        self._lock = world.lock if world is not None else None
        self._refs = refs
        """For a part (:func:`dump_part`): objects by ``id`` written as references by name,
        and timers and bound methods written as nothing (see :func:`dump_part`)."""
        self._kinds: dict[type, int] = {}
        self.strings: dict[str, int] = {}
        """Every distinct string, numbered in the order first written."""
        self.persistent_id = _string_numbers(self.strings)  # type: ignore[method-assign]
        self._fields: dict[type, Callable[[Any], Any]] = {}
        self._names: dict[type, tuple[str, ...]] = {}
        self._makers: dict[type, functools.partial[BaseModel]] = {}
        self._name_sets: dict[frozenset[str], tuple[str, ...]] = {}
        self._last_set: dict[type, tuple[frozenset[str], tuple[str, ...]]] = {}

    def _sorted_names(self, cls: type, names: set[str]) -> tuple[str, ...]:
        """A fields-set in sorted order, one tuple per distinct set (written once, then
        referenced: most records of a kind set the same fields, so the last one of the class
        is tried first, which costs no new object)."""
        last = self._last_set.get(cls)
        if last is not None and last[0] == names:
            return last[1]
        key = frozenset(names)
        found = self._name_sets.get(key)
        if found is None:
            found = self._name_sets[key] = tuple(sorted(key))
        self._last_set[cls] = (key, found)
        return found

    def _kind(self, cls: type) -> int:
        kind = self._kinds.get(cls)
        if kind is None:
            fields = getattr(cls, "__dataclass_fields__", None)
            if cls.__module__.startswith("consul_sim.") and issubclass(cls, BaseModel):
                kind = _MODEL
                self._names[cls] = names = tuple(cls.model_fields)
                self._makers[cls] = functools.partial(_model, cls, names)
            elif (
                cls.__module__.startswith("consul_sim.")
                and "__slots__" in cls.__dict__
                and fields
                and all(f.init and not f.kw_only for f in fields.values())
            ):
                kind = _FIELDS
                self._fields[cls] = operator.attrgetter(*fields)
            elif (
                not cls.__module__.startswith("consul_sim.")
                or "__slots__" in cls.__dict__
                or cls.__reduce_ex__ is not _OBJECT_REDUCE_EX  # enums and the like
                or cls.__reduce__ is not _OBJECT_REDUCE
            ):
                kind = _OTHER
            elif hasattr(cls, "__setstate__"):
                kind = _OWN_STATE
            else:
                kind = _PLAIN
            self._kinds[cls] = kind
        return kind

    def reducer_override(self, obj: Any) -> Any:
        if obj is self._world:
            return _the_world, ()
        if obj is self._lock:
            return _the_lock, ()
        cls = type(obj)
        if self._refs is not None:
            name = self._refs.get(id(obj))
            if name is not None:
                return _ref, (name,)
            if cls is Timer:
                return _dead_timer, (obj.when, obj.seq)
            if cls is MethodType:
                return _nothing, ()
        kind = self._kind(cls)
        if kind == _MODEL:
            values = obj.__dict__
            names = self._names[cls]
            if (
                tuple(values) == names
                and obj.__pydantic_private__ is None
                and obj.__pydantic_extra__ is None
            ):
                # One maker per class (written once, then referenced), so a record costs the
                # pickler its values and two small objects.
                return self._makers[cls], (
                    *values.values(),
                    self._sorted_names(cls, obj.__pydantic_fields_set__),
                )
            kind = _OWN_STATE  # an unusual one: pydantic's own way, sets sorted
        if kind == _PLAIN:
            state = obj.__getstate__()
            if type(state) is dict:
                return _NEWOBJ, (cls,), _sorted_sets(state), None, None, _set_dict
        elif kind == _OWN_STATE:
            reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
            if type(reduced) is tuple and len(reduced) >= 3 and type(reduced[2]) is dict:
                return (*reduced[:2], _sorted_sets(reduced[2]), *reduced[3:])
            return reduced
        elif kind == _FIELDS:
            values = self._fields[cls](obj)
            return cls, values if type(values) is tuple else (values,)
        elif isinstance(obj, ec.EllipticCurvePrivateKey):
            return _ec_key, (obj.private_numbers().private_value, obj.curve.name)
        return NotImplemented


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pickling a world makes or visits a hundred thousand objects and none of them is
    garbage; the cyclic collector would walk them all several times over (half the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _unpickler(stream: io.BytesIO, strings: list[str], *, part: bool) -> pickle.Unpickler:
    """An unpickler that reads each string reference from ``strings`` (a C method, called for
    every string of the snapshot); for a part, one that names only data classes."""
    unpickler = _PartUnpickler(stream) if part else pickle.Unpickler(stream)
    unpickler.persistent_load = strings.__getitem__  # type: ignore[method-assign]
    return unpickler


_PART_MODULES = (
    "consul_sim.models.",
    "consul_sim.store.",
    "consul_sim.peering.",
    "consul_sim.connect.",
    "consul_sim.catalog.",
    "consul_sim.config.",
    "consul_sim.acl.",
)
_PART_NAMES = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("collections", "deque"),
        ("collections", "defaultdict"),
        ("collections", "OrderedDict"),
        ("functools", "partial"),
        ("consul_sim.snapshot", "_model"),
        ("consul_sim.snapshot", "_ec_key"),
        ("consul_sim.snapshot", "_set_dict"),
        ("consul_sim.snapshot", "_ref"),
        ("consul_sim.snapshot", "_dead_timer"),
        ("consul_sim.snapshot", "_nothing"),
        ("consul_sim.rand", "SimRandom"),
        ("consul_sim.scheduler", "Timer"),
        ("datetime", "datetime"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }
)


class _PartUnpickler(pickle.Unpickler):
    """Loads a part (a cluster's state in a Consul snapshot archive, which an operator may
    hand in over HTTP): it names only the data classes of the domain and the few builtins a
    part is made of, so a crafted ``state.bin`` cannot make the loader call anything else."""

    def find_class(self, module: str, name: str) -> Any:
        found = (module, name) in _PART_NAMES
        if not found and module.startswith(_PART_MODULES):
            found = isinstance(getattr(importlib.import_module(module), name, None), type)
        if not found:
            raise pickle.UnpicklingError(f"a cluster snapshot may not hold {module}.{name}")
        return super().find_class(module, name)


def _header_line(fields: dict[str, Any]) -> bytes:
    return MAGIC + json.dumps(fields, sort_keys=True).encode() + b"\n"


def _pickled(world: World | None, state: dict[str, Any], refs: Mapping[int, str] | None) -> bytes:
    body = io.BytesIO()
    pickler = _Pickler(body, world, refs)
    with _no_gc():
        pickler.dump(state)
        pickler.clear_memo()
    out = io.BytesIO()
    pickle.dump(list(pickler.strings), out, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(body.getbuffer())
    return out.getvalue()


def dump(world: World, state: dict[str, Any]) -> bytes:
    """The snapshot of ``world`` whose picklable attributes are ``state`` (the caller holds
    the world lock, so no request changes it half-way)."""
    fields = {
        "Package": __version__,
        "Format": FORMAT,
        "Clusters": sorted(world.clusters),
        "Seed": world.seed,
    }
    return _header_line(fields) + _pickled(world, state, None)


def dump_part(world: World, cluster: str, state: dict[str, Any], refs: Mapping[int, str]) -> bytes:
    """A snapshot of part of one cluster of ``world`` (what a Consul snapshot archive holds,
    :mod:`consul_sim.archive`): ``state``, with the objects in ``refs`` (by ``id``) written as
    references by name that :func:`load_part` binds to the live objects of that name. Timers
    and bound methods are written as nothing: they belong to the process that runs the
    cluster (its leader), which arms its own when it loads the part."""
    fields = {"Package": __version__, "Format": FORMAT, "Clusters": [cluster], "Part": True}
    return _header_line(fields) + _pickled(world, state, refs)


def encoded_size(record: object) -> int:
    """How many bytes ``record`` takes written as a part writes it, on its own."""
    return len(_pickled(None, {"": record}, {}))


def header(data: bytes) -> dict[str, Any]:
    """The checked header of a snapshot: ``Package``, ``Format``, ``Clusters``, ``Seed``.
    Raises ValueError for bytes that are not a snapshot of this version and format."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"a snapshot is bytes, not {type(data).__name__}")
    raw = bytes(data[: len(MAGIC) + 4096])
    if not raw.startswith(MAGIC):
        raise ValueError("not a consul-sim snapshot (it does not start with the snapshot header)")
    line, newline, _ = raw[len(MAGIC) :].partition(b"\n")
    try:
        fields = json.loads(line) if newline else None
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise ValueError("not a consul-sim snapshot (its header is damaged)")
    made_by, made_in = fields.get("Package"), fields.get("Format")
    if made_by != __version__ or made_in != FORMAT:
        raise ValueError(
            f"snapshot was made by consul-sim {made_by} (format {made_in}); this is {__version__}"
        )
    return fields


def load(data: bytes, world: World, lock: threading.RLock) -> dict[str, Any]:
    """The state dict stored in ``data``, with references to the world and its lock bound to
    ``world`` and ``lock``. Runs pickle: only for snapshots from a trusted source."""
    if header(data).get("Part"):
        raise ValueError("not a consul-sim snapshot of a world (it holds part of one cluster)")
    return _load(data, world, lock, None)


def load_part(data: bytes, world: World | None, refs: Mapping[str, object]) -> dict[str, Any]:
    """The state of a part made by :func:`dump_part`, its references bound to ``refs``
    (``world`` None: a part only looked at, bound to no world). Raises ValueError for
    anything else, a damaged part, or one that names a class outside the domain's data."""
    if not header(data).get("Part"):
        raise ValueError("not a consul-sim snapshot of a cluster (it holds a whole world)")
    return _load(data, world, world.lock if world else threading.RLock(), refs)


def _load(
    data: bytes, world: World | None, lock: threading.RLock, refs: Mapping[str, object] | None
) -> dict[str, Any]:
    view = memoryview(data)
    start = len(MAGIC) + bytes(view[len(MAGIC) : len(MAGIC) + 4096]).index(b"\n") + 1
    _loading.world, _loading.lock, _loading.refs = world, lock, refs
    try:
        stream = io.BytesIO(view[start:])
        with _no_gc():
            strings = pickle.load(stream) if refs is None else _PartUnpickler(stream).load()
            if type(strings) is not list:
                raise pickle.UnpicklingError("no string table")
            state = _unpickler(stream, strings, part=refs is not None).load()
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        TypeError,
    ) as exc:
        raise ValueError(f"damaged consul-sim snapshot: {exc}") from None
    finally:
        del _loading.world, _loading.lock, _loading.refs
    if not isinstance(state, dict):
        raise ValueError("damaged consul-sim snapshot: no world state in it")
    return state
