"""What a user measured on their own hardware, and the readers of the usual file formats.

Five kinds of measurement feed :func:`~blackwell_model.trust.calibrate`:

* :class:`GemmMeasurement`: one GEMM of a throughput sweep, ``(m, n, k,
  dtype) -> TFLOP/s`` (:func:`read_gemm_csv`);
* :class:`CollectiveBenchmark`: the table that ``nccl-tests`` or
  ``rccl-tests`` print (``all_reduce_perf`` and friends), one
  :class:`CollectiveMeasurement` per message size (:func:`parse_nccl_tests`);
* :class:`MemoryMeasurement`: a sustained memory bandwidth (a STREAM-like
  copy, or an element-wise kernel);
* :class:`TrainingMeasurement`: the step time or tokens/s of a training run;
* :class:`ServingMeasurement`: time per output token, time to first token or
  output tokens/s of a serving run.

:class:`Measurements` holds them together, with the cluster they were taken
on; :func:`load_measurements` reads a TOML manifest that names the files
(see ``examples/measurements/`` and :doc:`/trust`).

Units follow the tools that produce the files: ``nccl-tests`` prints time in
µs and bandwidths in GB/s (10\\ :sup:`9` B/s); a GEMM sweep gives TFLOP/s
(10\\ :sup:`12` FLOP/s, ``2 m n k`` FLOPs per GEMM).
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._spec import bool_field
from .._validate import read_text_file
from ..errors import SpecError, SpecFileError
from ..hardware.precision import Precision
from ..units import parse_quantity

__all__ = [
    "NCCL_TESTS_OPS",
    "CollectiveBenchmark",
    "CollectiveMeasurement",
    "GemmMeasurement",
    "Measurements",
    "MemoryMeasurement",
    "ServingMeasurement",
    "TrainingMeasurement",
    "load_measurements",
    "parse_nccl_tests",
    "read_gemm_csv",
    "read_nccl_tests",
]

#: nccl-tests / rccl-tests binaries -> the collective they time (names of
#: :class:`~blackwell_model.solvers.Collective`).
NCCL_TESTS_OPS: Mapping[str, str] = {
    "all_reduce_perf": "all_reduce",
    "all_gather_perf": "all_gather",
    "reduce_scatter_perf": "reduce_scatter",
    "alltoall_perf": "all_to_all",
    "broadcast_perf": "broadcast",
    "sendrecv_perf": "send_recv",
}
_OP_ALIASES = {
    **{v: v for v in NCCL_TESTS_OPS.values()},
    **NCCL_TESTS_OPS,
    **{k.removesuffix("_perf"): v for k, v in NCCL_TESTS_OPS.items()},
    "allreduce": "all_reduce",
    "allgather": "all_gather",
    "reducescatter": "reduce_scatter",
    "all_to_all": "all_to_all",
}
_NOT_MODELLED = ("reduce_perf", "gather_perf", "scatter_perf", "hypercube_perf")


def _positive(name: str, value: Any, unit: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number > 0 {unit}, got {value!r}") from None
    if not (math.isfinite(x) and x > 0.0):
        raise SpecError(f"{name} must be a number > 0 {unit}, got {value!r}")
    return x


def _int_at_least(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _precision(value: Any) -> Precision:
    return Precision.parse(value)


@attrs.frozen(kw_only=True)
class GemmMeasurement:
    """One GEMM of a throughput sweep.

    Parameters
    ----------
    m, n, k
        GEMM shape: ``(m x k) @ (k x n)`` [elements].
    precision
        Input precision (``"bf16"``, ``"fp8"`` ...), a
        :class:`~blackwell_model.hardware.Precision` or its name.
    tflops
        Measured throughput, ``2 m n k count / time`` [TFLOP/s].
    count
        GEMMs of that shape issued together as one batched kernel (1: a
        plain GEMM).
    label
        Free text shown with the residual.
    """

    m: int = attrs.field()
    n: int = attrs.field()
    k: int = attrs.field()
    precision: Precision = attrs.field(converter=_precision)
    tflops: float = attrs.field()
    count: int = attrs.field(default=1)
    label: str = ""

    @m.validator
    @n.validator
    @k.validator
    def _check_dim(self, attribute: Any, value: Any) -> None:
        _int_at_least(attribute.name, value, 1)

    @tflops.validator
    def _check_tflops(self, attribute: Any, value: Any) -> None:
        _positive("tflops", value, "TFLOP/s")

    @count.validator
    def _check_count(self, attribute: Any, value: Any) -> None:
        _int_at_least("count", value, 1)

    @property
    def flops(self) -> float:
        """FLOPs of the measurement, ``2 m n k count`` [FLOP]."""
        return 2.0 * self.m * self.n * self.k * self.count

    @property
    def time_s(self) -> float:
        """Measured time implied by :attr:`tflops` [s]."""
        return self.flops / (self.tflops * 1e12)


@attrs.frozen(kw_only=True)
class CollectiveMeasurement:
    """One row of an ``nccl-tests`` table.

    Parameters
    ----------
    size_bytes
        Message size in nccl-tests' convention [B] (total output of
        all-gather, total input of reduce-scatter, per-rank buffer of
        all-reduce and all-to-all).
    count
        Elements.
    dtype
        Element type as printed (``float``, ``bfloat16`` ...).
    time_s
        Out-of-place time [s].
    algbw_Bps, busbw_Bps
        Out-of-place algorithm and bus bandwidth [B/s].
    in_place_time_s
        In-place time [s] (NaN when the row has none).
    wrong
        The ``#wrong`` column (None when validation was off, ``N/A``).
    """

    size_bytes: float
    count: int
    dtype: str
    time_s: float
    algbw_Bps: float
    busbw_Bps: float
    in_place_time_s: float = math.nan
    wrong: int | None = None


@attrs.frozen(kw_only=True)
class CollectiveBenchmark:
    """One ``nccl-tests`` / ``rccl-tests`` run: a collective over ``ranks`` GPUs, many sizes.

    Parameters
    ----------
    op
        Collective name (``"all_reduce"``, ``"all_gather"``, ``"reduce_scatter"``,
        ``"all_to_all"``, ``"broadcast"``, ``"send_recv"``).
    ranks
        GPUs in the communicator.
    hosts
        Hosts (nodes) they ran on; ranks are spread evenly over them.
    rows
        One :class:`CollectiveMeasurement` per message size.
    source
        Where the table came from (file name).
    """

    op: str
    ranks: int
    hosts: int
    rows: tuple[CollectiveMeasurement, ...]
    source: str = ""

    def __attrs_post_init__(self) -> None:
        if self.op not in _OP_ALIASES.values():
            raise SpecError(
                f"op must be one of {', '.join(sorted(set(_OP_ALIASES.values())))}, got {self.op!r}"
            )
        _int_at_least("ranks", self.ranks, 2)
        _int_at_least("hosts", self.hosts, 1)
        if self.ranks % self.hosts:
            raise SpecError(
                f"ranks ({self.ranks}) must spread evenly over hosts ({self.hosts}) in {self.source or 'the benchmark'}"
            )


@attrs.frozen(kw_only=True)
class MemoryMeasurement:
    """A sustained memory bandwidth of one GPU.

    Parameters
    ----------
    bandwidth
        Measured bandwidth [B/s] (a Quantity or a string such as ``"3.0 TB/s"``).
    kind
        ``"stream"``: a large streaming copy or triad (what GEMM and
        attention kernels reach; sets ``roofline.hbm``), or
        ``"elementwise"``: an element-wise/normalisation kernel (sets
        ``roofline.elementwise``).
    label
        Free text shown with the residual.
    """

    bandwidth: Any = attrs.field(converter=lambda v: parse_quantity(v, "B/s", name="bandwidth"))
    kind: str = attrs.field(default="stream")
    label: str = ""

    @kind.validator
    def _check_kind(self, attribute: Any, value: Any) -> None:
        if value not in ("stream", "elementwise"):
            raise SpecError(f"kind must be 'stream' or 'elementwise', got {value!r}")

    @property
    def bandwidth_Bps(self) -> float:
        """:attr:`bandwidth` as a float [B/s]."""
        return float(self.bandwidth.m)


def _model(value: Any) -> Any:
    if isinstance(value, str):
        from .. import catalog

        return catalog.model(value)
    return value


_TRAINING_METRICS = ("step_time", "tokens_per_second", "tokens_per_second_per_gpu")
_SERVING_METRICS = (
    "time_per_output_token",
    "time_to_first_token",
    "output_tokens_per_second",
    "output_tokens_per_second_per_gpu",
)
_TIME_METRICS = ("step_time", "time_per_output_token", "time_to_first_token")


def _metric(metric: str, allowed: Sequence[str]) -> str:
    if metric not in allowed:
        raise SpecError(f"metric must be one of {', '.join(allowed)}, got {metric!r}")
    return metric


def _value(metric: str, value: Any) -> float:
    unit = "s" if metric in _TIME_METRICS else "tokens/s"
    if metric in _TIME_METRICS and not _is_number(value):
        value = float(parse_quantity(value, "s", name=metric).m)
    return _positive(metric, value, unit)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@attrs.frozen(kw_only=True)
class TrainingMeasurement:
    """The measured speed of one training run.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or a catalog name.
    layout
        The :class:`~blackwell_model.parallel.Layout` the run used.
    metric
        ``"step_time"`` [s], ``"tokens_per_second"`` (whole job) or
        ``"tokens_per_second_per_gpu"`` [tokens/s].
    value
        The measurement, in the unit of ``metric`` (a float, or a string
        such as ``"6.2 s"`` for a time).
    cluster
        :class:`~blackwell_model.hardware.Cluster` it ran on; None: the
        cluster given to :func:`~blackwell_model.trust.calibrate`.
    memory
        :class:`~blackwell_model.parallel.MemoryModel` of the run (None: the
        defaults).
    label
        Free text shown with the residual.
    """

    model: Any = attrs.field(converter=_model)
    layout: Any
    metric: str = attrs.field(default="step_time")
    value: float = attrs.field(default=0.0)
    cluster: Any = None
    memory: Any = None
    label: str = ""

    def __attrs_post_init__(self) -> None:
        from ..parallel.layout import Layout

        if not isinstance(self.layout, Layout):
            raise SpecError(
                f"layout must be a Layout, got {type(self.layout).__name__} {self.layout!r}"
            )
        _metric(self.metric, _TRAINING_METRICS)
        object.__setattr__(self, "value", _value(self.metric, self.value))

    def step_time_s(self) -> float:
        """The measurement as a step time [s]."""
        tokens = self.layout.tokens_per_step
        if self.metric == "step_time":
            return self.value
        if self.metric == "tokens_per_second":
            return tokens / self.value
        return tokens / (self.value * self.layout.gpus)


@attrs.frozen(kw_only=True)
class ServingMeasurement:
    """The measured latency or throughput of one serving run.

    Parameters
    ----------
    model
        A :class:`~blackwell_model.workload.Transformer` or a catalog name.
    layout
        The :class:`~blackwell_model.parallel.InferenceLayout`.
    batch
        Concurrent sequences per replica.
    input_tokens, output_tokens
        Prompt and generated tokens per request [tokens].
    metric
        ``"time_per_output_token"`` or ``"time_to_first_token"`` [s],
        ``"output_tokens_per_second"`` (deployment) or
        ``"output_tokens_per_second_per_gpu"`` [tokens/s].
    value
        The measurement (a float in the unit of ``metric``, or a string such
        as ``"12 ms"`` for a time).
    precision, kv_precision
        Weight/GEMM and KV-cache precisions (as
        :func:`~blackwell_model.predict_inference`).
    static
        True: a static batch (offline benchmark); False: continuous batching
        at ``batch``.
    cluster
        Cluster it ran on; None: the one given to ``calibrate``.
    label
        Free text shown with the residual.
    """

    model: Any = attrs.field(converter=_model)
    layout: Any
    batch: int
    input_tokens: int
    output_tokens: int
    metric: str = "time_per_output_token"
    value: float = 0.0
    precision: str = "bf16"
    kv_precision: str | None = None
    static: bool = bool_field(default=True)
    cluster: Any = None
    label: str = ""

    def __attrs_post_init__(self) -> None:
        from ..parallel.inference import InferenceLayout

        if not isinstance(self.layout, InferenceLayout):
            raise SpecError(
                f"layout must be an InferenceLayout, got {type(self.layout).__name__} {self.layout!r}"
            )
        for name in ("batch", "input_tokens", "output_tokens"):
            _int_at_least(name, getattr(self, name), 1)
        _metric(self.metric, _SERVING_METRICS)
        object.__setattr__(self, "value", _value(self.metric, self.value))


@attrs.frozen(kw_only=True)
class Measurements:
    """Everything measured on one cluster, ready for :func:`~blackwell_model.trust.calibrate`.

    Parameters
    ----------
    gemm, collectives, memory, training, serving
        The measurements of each kind (tuples; any may be empty).
    cluster
        The :class:`~blackwell_model.hardware.Cluster` they were taken on
        (None: give it to ``calibrate``).
    source
        Where they were read from.
    """

    gemm: tuple[GemmMeasurement, ...] = ()
    collectives: tuple[CollectiveBenchmark, ...] = ()
    memory: tuple[MemoryMeasurement, ...] = ()
    training: tuple[TrainingMeasurement, ...] = ()
    serving: tuple[ServingMeasurement, ...] = ()
    cluster: Any = None
    source: str = ""

    @classmethod
    def of(cls, items: Iterable[Any], *, cluster: Any = None) -> Measurements:
        """Sort a mixed iterable of measurement records (and benchmarks) by kind."""
        kinds: dict[type, list[Any]] = {
            GemmMeasurement: [],
            CollectiveBenchmark: [],
            MemoryMeasurement: [],
            TrainingMeasurement: [],
            ServingMeasurement: [],
        }
        for item in items:
            if isinstance(item, Measurements):
                for name, kind in zip(_KIND_FIELDS, kinds, strict=True):
                    kinds[kind].extend(getattr(item, name))
                cluster = cluster if cluster is not None else item.cluster
                continue
            bucket = kinds.get(type(item))
            if bucket is None:
                raise SpecError(
                    "measurements must be GemmMeasurement, CollectiveBenchmark, "
                    "MemoryMeasurement, TrainingMeasurement or ServingMeasurement records, "
                    f"got {type(item).__name__} {item!r}"
                )
            bucket.append(item)
        lists = [tuple(v) for v in kinds.values()]
        return cls(
            gemm=lists[0],
            collectives=lists[1],
            memory=lists[2],
            training=lists[3],
            serving=lists[4],
            cluster=cluster,
        )

    def __len__(self) -> int:
        return (
            len(self.gemm)
            + sum(len(b.rows) for b in self.collectives)
            + len(self.memory)
            + len(self.training)
            + len(self.serving)
        )


_KIND_FIELDS = ("gemm", "collectives", "memory", "training", "serving")


# --------------------------------------------------------------------------- GEMM CSV

_GEMM_COLUMNS = {
    "m": ("m",),
    "n": ("n",),
    "k": ("k",),
    "precision": ("dtype", "precision", "type"),
    "tflops": ("tflops", "tflop/s", "tflops/s", "throughput_tflops"),
    "count": ("count", "batch", "groups"),
    "label": ("label", "name"),
}


def _clean_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def read_gemm_csv(source: str | Path, *, text: str | None = None) -> tuple[GemmMeasurement, ...]:
    """Read a GEMM throughput sweep from CSV.

    Columns (case-insensitive, in any order): ``m``, ``n``, ``k``,
    ``dtype`` (or ``precision``), ``tflops`` [TFLOP/s], and optionally
    ``count`` (batched GEMMs per kernel) and ``label``.  Lines starting with
    ``#`` are comments.

    Parameters
    ----------
    source
        Path of the file (or a name for messages when ``text`` is given).
    text
        The CSV text itself (then ``source`` is not read).

    Raises
    ------
    SpecFileError
        A required column is missing, or a row cannot be read (the message
        names the file, the line and the value).

    Examples
    --------
    >>> rows = read_gemm_csv("sweep.csv", text="m,n,k,dtype,tflops\\n8192,8192,8192,bf16,700")
    >>> rows[0].tflops, rows[0].precision.value
    (700.0, 'bf16')
    """
    name = str(source)
    body = read_text_file(source, "source")[0] if text is None else text
    lines = _clean_lines(body)
    if not lines:
        raise SpecFileError(f"{name}: no GEMM rows (expected a CSV header m,n,k,dtype,tflops)")
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    header = {h.strip().lower(): h for h in (reader.fieldnames or [])}
    cols: dict[str, str] = {}
    for key, names in _GEMM_COLUMNS.items():
        for n in names:
            if n in header:
                cols[key] = header[n]
                break
    missing = [k for k in ("m", "n", "k", "precision", "tflops") if k not in cols]
    if missing:
        raise SpecFileError(
            f"{name}: GEMM CSV lacks column(s) {', '.join(missing)}; header is "
            f"{', '.join(header) or '(empty)'} (expected m, n, k, dtype, tflops)"
        )
    out = []
    for i, row in enumerate(reader, start=2):
        try:
            out.append(
                GemmMeasurement(
                    m=_csv_int(row[cols["m"]]),
                    n=_csv_int(row[cols["n"]]),
                    k=_csv_int(row[cols["k"]]),
                    precision=row[cols["precision"]].strip(),
                    tflops=float(row[cols["tflops"]]),
                    count=_csv_int(row[cols["count"]]) if "count" in cols else 1,
                    label=row[cols["label"]].strip() if "label" in cols else "",
                )
            )
        except (SpecError, ValueError, TypeError, AttributeError) as exc:
            raise SpecFileError(f"{name}: data row {i - 1}: {exc} (row {dict(row)})") from None
    return tuple(out)


def _csv_int(text: Any) -> int:
    value = float(str(text).strip())
    if not value.is_integer():
        raise SpecError(f"expected an integer, got {text!r}")
    return int(value)


# --------------------------------------------------------------------------- nccl-tests

_MPI_PREFIX = re.compile(r"^\s*\[\d+,\d+\]<std(?:out|err)>:\s?")
_RANK_LINE = re.compile(r"#?\s*Rank\s+(\d+)\b.*?\bon\s+(\S+)\s+device", re.IGNORECASE)
_TEST_NAME = re.compile(
    r"(?<![a-z_])((?:all_reduce|all_gather|reduce_scatter|alltoall|broadcast|sendrecv|reduce"
    r"|gather|scatter|hypercube)_perf)"
)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _header_columns(line: str) -> list[str] | None:
    tokens = line.lstrip("#").split()
    low = [t.lower() for t in tokens]
    if "size" in low and "time" in low and ("busbw" in low or "algbw" in low):
        return low
    return None


def parse_nccl_tests(
    text: str,
    *,
    op: str | None = None,
    ranks: int | None = None,
    hosts: int | None = None,
    source: str = "<text>",
    in_place: bool = False,
) -> CollectiveBenchmark:
    """Parse the output of an ``nccl-tests`` or ``rccl-tests`` binary.

    Reads the table that ``all_reduce_perf`` and the other tests print::

        #       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong
        #        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)
             1048576        262144     float     sum      -1    27.76   37.78   66.11      0    27.49   38.15   66.76      0

    Columns are located by the header line, so older layouts (no ``root``
    column, an ``error`` column instead of ``#wrong``, times in ms) and
    ``mpirun`` output with ``[1,0]<stdout>:`` prefixes are read too.  Rows of
    size 0 are skipped.  Each row is checked: the algorithm bandwidth must be
    ``size / time``.

    Parameters
    ----------
    text
        The whole output (header, rank lines, table, footer).
    op
        The collective (``"all_reduce"``, ``"all_gather"``,
        ``"reduce_scatter"``, ``"all_to_all"``, ``"broadcast"``,
        ``"send_recv"``, or the binary name such as ``"all_reduce_perf"``).
        Default: read from the output (``# Collective test starting:
        all_reduce_perf`` or the command line), else from ``source``.
    ranks
        GPUs in the run; default: the ``Rank`` lines of the output.
    hosts
        Hosts they ran on; default: the distinct host names of the ``Rank``
        lines.
    source
        File name (for messages, and to infer ``op``).
    in_place
        Use the in-place columns as the measurement instead of the
        out-of-place ones.

    Returns
    -------
    CollectiveBenchmark

    Raises
    ------
    SpecFileError
        No table, an unreadable row, an inconsistent algbw, or no way to tell
        the collective or the number of ranks (the message says which option
        to give).
    """
    lines = [_MPI_PREFIX.sub("", ln) for ln in text.splitlines()]
    op_name = _resolve_op(op, lines, source)
    rank_hosts: dict[int, str] = {}
    header: list[str] | None = None
    time_unit = 1e-6
    rows: list[CollectiveMeasurement] = []
    for lineno, line in enumerate(lines, start=1):
        m = _RANK_LINE.search(line)
        if m and line.lstrip().startswith(("#", "Rank")):
            rank_hosts.setdefault(int(m.group(1)), m.group(2))
            continue
        cols = _header_columns(line)
        if cols is not None:
            header = cols
            continue
        stripped = line.lstrip("#").strip()
        if header is not None and stripped.startswith("(B)"):
            units = stripped.split()
            if "(ms)" in units:
                time_unit = 1e-3
            continue
        if header is None or line.lstrip().startswith("#"):
            continue
        tokens = line.split()
        if not tokens or not _NUMBER.match(tokens[0]):
            continue
        rows_added = _table_row(
            tokens, header, time_unit=time_unit, source=source, lineno=lineno, in_place=in_place
        )
        if rows_added is not None:
            rows.append(rows_added)
    if header is None:
        raise SpecFileError(
            f"{source}: no nccl-tests table found (expected a header line with size, count, "
            "type, time, algbw, busbw)"
        )
    if not rows:
        raise SpecFileError(f"{source}: the nccl-tests table has no rows with a size > 0")
    n_ranks = ranks if ranks is not None else len(rank_hosts)
    if n_ranks < 2:
        raise SpecFileError(
            f"{source}: cannot tell how many GPUs ran the test (found {len(rank_hosts)} "
            "'Rank' line(s)); pass ranks="
        )
    n_hosts = hosts if hosts is not None else max(len(set(rank_hosts.values())), 1)
    return CollectiveBenchmark(
        op=op_name, ranks=n_ranks, hosts=n_hosts, rows=tuple(rows), source=source
    )


def _resolve_op(op: str | None, lines: Sequence[str], source: str) -> str:
    valid = ", ".join(sorted(NCCL_TESTS_OPS))
    if op is not None:
        key = str(op).strip().lower()
        if key in _OP_ALIASES:
            return _OP_ALIASES[key]
        raise SpecError(f"op must be a collective or an nccl-tests binary ({valid}), got {op!r}")
    candidates = [*[ln for ln in lines if "_perf" in ln][:20], Path(source).name]
    for ln in candidates:
        for name in _TEST_NAME.findall(ln):
            if name in NCCL_TESTS_OPS:
                return NCCL_TESTS_OPS[name]
            if name in _NOT_MODELLED:
                raise SpecFileError(
                    f"{source}: {name} is not modelled; calibrate with {valid} instead"
                )
    raise SpecFileError(
        f"{source}: cannot tell which collective the table times (no '*_perf' name in the "
        f"output or the file name); pass op= (one of {valid})"
    )


def _table_row(
    tokens: list[str],
    header: list[str],
    *,
    time_unit: float,
    source: str,
    lineno: int,
    in_place: bool,
) -> CollectiveMeasurement | None:
    def bad(why: str) -> SpecFileError:
        return SpecFileError(f"{source}: line {lineno}: {why}: {' '.join(tokens)!r}")

    if len(tokens) != len(header):
        raise bad(f"expected {len(header)} columns ({' '.join(header)}), got {len(tokens)}")
    times = [i for i, h in enumerate(header) if h == "time"]
    if not times:
        raise bad("the header has no time column")
    first = times[1] if in_place and len(times) > 1 else times[0]
    try:
        size = float(tokens[header.index("size")])
        count = int(float(tokens[header.index("count")])) if "count" in header else 0
        t = float(tokens[first]) * time_unit
        algbw = float(tokens[first + 1]) * 1e9
        busbw = float(tokens[first + 2]) * 1e9
        other = times[0] if in_place else (times[1] if len(times) > 1 else None)
        t_in = float(tokens[other]) * time_unit if other is not None else math.nan
    except (ValueError, IndexError):
        raise bad("a number cannot be read") from None
    if size <= 0:
        return None
    if not (t > 0 and math.isfinite(t)):
        raise bad(f"time must be > 0, got {tokens[first]}")
    # nccl-tests prints algbw = size / time rounded to 2 decimals in GB/s
    expect = size / t
    if abs(algbw - expect) > max(0.02 * expect, 0.006e9):
        raise bad(
            f"algbw {algbw / 1e9:g} GB/s is not size / time = {expect / 1e9:.3g} GB/s "
            "(columns in an unexpected order?)"
        )
    wrong_col = next((i for i, h in enumerate(header) if h in ("#wrong", "error", "wrong")), None)
    wrong: int | None = None
    if wrong_col is not None and header[wrong_col] != "error":
        text = tokens[wrong_col]
        wrong = int(text) if text.isdigit() else None
    dtype = tokens[header.index("type")] if "type" in header else ""
    return CollectiveMeasurement(
        size_bytes=size,
        count=count,
        dtype=dtype,
        time_s=t,
        algbw_Bps=algbw,
        busbw_Bps=busbw,
        in_place_time_s=t_in,
        wrong=wrong,
    )


def read_nccl_tests(path: str | Path, **kwargs: Any) -> CollectiveBenchmark:
    """:func:`parse_nccl_tests` of a file (its name helps to tell the collective)."""
    body, p = read_text_file(path, errors="replace")
    return parse_nccl_tests(body, source=str(p), **kwargs)


# --------------------------------------------------------------------------- manifest

_MANIFEST_KEYS = {"cluster", "gemm", "collectives", "memory", "training", "serving", "note"}


def load_measurements(path: str | Path) -> Measurements:
    """Read a TOML manifest of measurements (and the files it names).

    The manifest (paths relative to it)::

        note = "what was measured, when, with which software"
        [cluster]
        system = "DGX-H100"        # catalog system (or one loaded with --parts)
        gpus = 16

        [[gemm]]
        file = "gemm_sweep.csv"    # m,n,k,dtype,tflops

        [[collectives]]
        file = "all_reduce_perf_8gpu.txt"   # nccl-tests output
        op = "all_reduce"          # optional when the output names the binary

        [[memory]]
        bandwidth = "3.0 TB/s"
        kind = "stream"

        [[training]]
        model = "llama3-8b"
        layout = { tp = 1, dp = 8, global_batch = 128, seq_len = 8192, precision = "bf16" }
        step_time = "5.6 s"        # or tokens_per_second / tokens_per_second_per_gpu

        [[serving]]
        model = "llama3-8b"
        layout = { tp = 1 }
        batch = 32
        input_tokens = 1000
        output_tokens = 200
        precision = "fp8"
        time_per_output_token = "11 ms"

    Raises
    ------
    SpecFileError
        The file is not valid TOML, or an entry is malformed (the message
        names the entry).
    """
    body, p = read_text_file(path)
    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(f"{p}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _MANIFEST_KEYS)
    if unknown:
        raise SpecFileError(
            f"{p}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_MANIFEST_KEYS))}"
        )
    base = p.parent
    cluster = None
    if "cluster" in data:
        from .. import catalog

        c = data["cluster"]
        if "system" not in c or "gpus" not in c:
            raise SpecFileError(f"{p}: [cluster] needs system = NAME and gpus = N, got {c!r}")
        try:
            cluster = catalog.cluster(c["system"], gpus=c["gpus"])
        except SpecError as exc:
            raise SpecFileError(f"{p}: [cluster]: {exc}") from None
    gemm: list[GemmMeasurement] = []
    for i, entry in enumerate(_tables(data, "gemm", p)):
        gemm.extend(read_gemm_csv(base / _need(entry, "file", f"{p}: gemm[{i}]")))
    colls = []
    for i, entry in enumerate(_tables(data, "collectives", p)):
        where = f"{p}: collectives[{i}]"
        extra = {k: entry[k] for k in ("op", "ranks", "hosts", "in_place") if k in entry}
        try:
            colls.append(read_nccl_tests(base / _need(entry, "file", where), **extra))
        except OSError as exc:
            raise SpecFileError(f"{where}: {exc}") from None
    memory = [
        _build(MemoryMeasurement, entry, f"{p}: memory[{i}]")
        for i, entry in enumerate(_tables(data, "memory", p))
    ]
    training = [
        _run_entry(entry, f"{p}: training[{i}]", serving=False)
        for i, entry in enumerate(_tables(data, "training", p))
    ]
    serving = [
        _run_entry(entry, f"{p}: serving[{i}]", serving=True)
        for i, entry in enumerate(_tables(data, "serving", p))
    ]
    return Measurements(
        gemm=tuple(gemm),
        collectives=tuple(colls),
        memory=tuple(memory),
        training=tuple(training),
        serving=tuple(serving),
        cluster=cluster,
        source=str(p),
    )


def _tables(data: Mapping[str, Any], key: str, p: Path) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise SpecFileError(f"{p}: {key} must be a table or an array of tables ([[{key}]])")
    return value


def _need(entry: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise SpecFileError(f"{where}: missing key {key!r}")
    return entry[key]


def _build(cls: Any, entry: Mapping[str, Any], where: str, **extra: Any) -> Any:
    try:
        return cls(**{**dict(entry), **extra})
    except TypeError as exc:
        raise SpecFileError(f"{where}: {exc}") from None
    except SpecError as exc:
        raise SpecFileError(f"{where}: {exc}") from None


def _run_entry(entry: Mapping[str, Any], where: str, *, serving: bool) -> Any:
    from .. import catalog
    from ..parallel.inference import InferenceLayout
    from ..parallel.layout import Layout

    metrics = _SERVING_METRICS if serving else _TRAINING_METRICS
    given = [m for m in metrics if m in entry]
    if len(given) != 1:
        raise SpecFileError(
            f"{where}: give exactly one of {', '.join(metrics)}, got {', '.join(given) or 'none'}"
        )
    rest = {k: v for k, v in entry.items() if k not in metrics}
    layout_cls = InferenceLayout if serving else Layout
    try:
        rest["layout"] = layout_cls.from_dict(_need(entry, "layout", where))
        if "system" in rest:
            rest["cluster"] = catalog.cluster(rest.pop("system"), gpus=_need(rest, "gpus", where))
            rest.pop("gpus")
        elif "gpus" in rest:
            raise SpecFileError(f"{where}: gpus needs system = NAME beside it")
    except SpecError as exc:
        raise SpecFileError(f"{where}: {exc}") from None
    cls = ServingMeasurement if serving else TrainingMeasurement
    return _build(cls, rest, where, metric=given[0], value=entry[given[0]])
