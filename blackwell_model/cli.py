"""The ``blackwell-model`` command line.

With no arguments it prints the main what-if report on built-in defaults:
Llama 3 70B and 405B trained and served on DGX-H100 and GB200-NVL72 clusters
(:func:`blackwell_model.study.report.what_if_report`).  Subcommands:

``catalog [KIND] [NAME]``
    List catalog entries, or show one with its sources.
``train``
    Predict one training layout: step time, MFU, memory and the breakdown.
``infer``
    Predict serving: time to first token, time per output token, throughput,
    memory and energy per token.
``search``
    Search every valid training layout and rank them (progress bar on stderr).
``compare``
    The same training and serving workload on several systems, side by side.
``size``
    GPUs, racks, $ per million tokens and joules per token to serve a request
    rate under latency targets.
``plan``
    Size a fleet by GPUs or a facility power budget; the goodput of a
    fleet-wide job.
``graph``
    Export the topology of a system or cluster as GraphML or node-link JSON.
``calibrate``
    Fit the efficiency parameters to your own measurements (a TOML manifest
    naming GEMM sweeps, nccl-tests outputs, bandwidths, step times); write
    the result as JSON for ``train --calibration`` and ``infer --calibration``.

Every subcommand takes ``--parts FILE.toml`` (repeatable) to load the user's
own parts and models in the catalog format first, so they can be named like
catalog entries, and ``--json`` (but ``graph``) for one strict-JSON document
in the schema of :mod:`blackwell_model._json` (the docs' "JSON output" page).
Options not given on the command line are listed with their values under the
output ("defaults"), and whatever was rounded or assumed under "notes".

Errors are one line on standard error: exit status 2 for a wrong argument or
input, 3 for a bug, 130 after Ctrl-C (with whatever partial result there is).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import attrs

from . import __version__, catalog
from ._json import document, spec_data
from ._validate import MAX_INT
from .errors import BlackwellModelError, InfeasibleLayoutError, Interrupted, SpecError
from .hardware import Precision
from .units import format_quantity

__all__ = ["SEARCH_CHUNK", "accelerator_rows", "accelerator_table", "main"]

_PROG = "blackwell-model"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    sep = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join([line, sep, *body])


def accelerator_rows() -> list[dict[str, Any]]:
    """The catalog's accelerators as rows of SI floats with unit-suffixed keys (None: absent)."""
    rows = []
    for name in catalog.names("accelerator"):
        a = catalog.accelerator(name)
        peaks = {
            f"peak_{p.value}_flop_per_s": a.peak(p).m if a.supports(p) else None
            for p in (Precision.BF16, Precision.FP8, Precision.FP4)
        }
        rows.append(
            {
                "accelerator": name,
                **peaks,
                "memory_capacity_B": a.memory_capacity.m,
                "memory_bandwidth_Bps": a.memory_bandwidth.m,
                "scale_up_bandwidth_Bps": a.scale_up_bandwidth.m if a.scale_up_link else None,
                "nic_bandwidth_Bps": a.nic.bandwidth.m if a.nic is not None else None,
                "tdp_W": a.tdp.m,
                "ridge_point_bf16_flop_per_B": (
                    a.ridge_point("bf16").m if a.supports("bf16") else None
                ),
            }
        )
    return rows


def _fmt(value: float | None, scale: float, spec: str) -> str:
    return "-" if value is None else format(value / scale, spec)


def accelerator_table() -> str:
    """The catalog's accelerators side by side (dense TFLOP/s, memory, links, ridge point)."""
    headers = [
        "accelerator",
        "BF16",
        "FP8",
        "FP4",
        "HBM GB",
        "HBM TB/s",
        "scale-up GB/s/dir",
        "NIC Gb/s",
        "TDP W",
        "ridge BF16 FLOP/B",
    ]
    rows = [
        [
            r["accelerator"],
            _fmt(r["peak_bf16_flop_per_s"], 1e12, ",.0f"),
            _fmt(r["peak_fp8_flop_per_s"], 1e12, ",.0f"),
            _fmt(r["peak_fp4_flop_per_s"], 1e12, ",.0f"),
            _fmt(r["memory_capacity_B"], 1e9, ",.0f"),
            _fmt(r["memory_bandwidth_Bps"], 1e12, ".2f"),
            _fmt(r["scale_up_bandwidth_Bps"], 1e9, ",.0f"),
            _fmt(r["nic_bandwidth_Bps"], 1e9 / 8, ",.0f"),
            _fmt(r["tdp_W"], 1.0, ",.0f"),
            _fmt(r["ridge_point_bf16_flop_per_B"], 1.0, ",.0f"),
        ]
        for r in accelerator_rows()
    ]
    return (
        "Dense peak TFLOP/s per accelerator (catalog; sources: `blackwell-model catalog accelerator NAME`)\n\n"
        + _table(headers, rows)
    )


# ------------------------------------------------------------------ run context
@attrs.define
class _Run:
    """One command line: its arguments, which options were given, and notes to print."""

    command: str
    args: argparse.Namespace
    given: set[str]
    shown: dict[str, Any] = attrs.field(factory=dict)  # option -> value actually used
    notes: list[str] = attrs.field(factory=list)

    def use(self, option: str, value: Any) -> Any:
        """Record the value used for ``option`` (dest name) and return it."""
        self.shown[option] = value
        return value

    @property
    def defaults(self) -> list[str]:
        """Options (dest names) left at their default, in the order they are used.

        Flags that are off (``--no-memory-check`` not given) and options that are
        unset (``--max-tpot``: no target) are not listed.
        """
        return [
            k
            for k in self.shown
            if k not in self.given and self.shown[k] is not False and self.shown[k] is not None
        ]

    def defaults_line(self) -> str:
        """``"defaults (not given): cp=2 vpp=5 ..."`` or ``""``."""
        shown = [f"{k.replace('_', '-')}={_text(self.shown[k])}" for k in self.defaults]
        return "defaults (not given on the command line): " + " ".join(shown) if shown else ""

    def emit(self, text: str, result: Any) -> None:
        """Print the text output with its defaults and notes, or the JSON document."""
        if self.args.json:
            print(
                document(
                    self.command,
                    result,
                    inputs=self.shown,
                    defaults=self.defaults,
                    notes=self.notes,
                )
            )
            return
        print(text)
        line = self.defaults_line()
        if line or self.notes:
            print()
        if line:
            print(line)
        for note in self.notes:
            print(f"note: {note}")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _given(
    parser: argparse.ArgumentParser, argv: Sequence[str], args: argparse.Namespace
) -> set[str]:
    """Dest names of the options and positionals given on the command line."""
    tokens = list(argv)
    if "--" in tokens:
        tokens = tokens[: tokens.index("--")]
    out = set()
    for action in parser._actions:
        if action.option_strings:
            if any(t == o or t.startswith(o + "=") for o in action.option_strings for t in tokens):
                out.add(action.dest)
        elif getattr(args, action.dest, None) != action.default:
            out.add(action.dest)
    return out


def _with_hint(exc: BlackwellModelError, hint: str) -> BlackwellModelError:
    """``exc`` with ``hint`` appended to its message (layout errors only keep their rule)."""
    if isinstance(exc, InfeasibleLayoutError):
        return InfeasibleLayoutError(exc.rule, exc.message + hint)
    return exc


def _cluster(run: _Run, gpus: int) -> Any:
    """The cluster of ``gpus`` GPUs of ``--system``, with a note on what was rounded."""
    cluster = catalog.cluster(run.use("system", run.args.system), gpus=gpus)
    if cluster.rounding_note:
        run.notes.append(f"cluster: {cluster.rounding_note}")
    return cluster


# ------------------------------------------------------------------ commands
def _cmd_catalog(run: _Run) -> int:
    args = run.args
    if args.table:
        if args.kind is not None:
            raise SpecError(f"--table shows every accelerator; give no KIND, got {args.kind!r}")
        run.emit(accelerator_table(), accelerator_rows())
        return 0
    if args.kind is None:
        listing = catalog.names()
        text = "\n".join(f"{k} ({len(v)}): {', '.join(v)}" for k, v in listing.items())  # type: ignore[union-attr]
        run.emit(text, listing)
        return 0
    run.use("kind", args.kind)
    if args.name is None:
        names = catalog.names(args.kind)
        run.emit("\n".join(names), names)
        return 0
    part = catalog.get(args.kind, run.use("name", args.name))
    lines = [part.summary()]
    sources = getattr(part, "sources", {})
    if sources:
        lines.append("  sources:")
        lines += [f"    {k}: {v}" for k, v in sources.items()]
    notes = getattr(part, "notes", "")
    if notes:
        lines.append(f"  notes: {notes}")
    run.emit("\n".join(lines), {"kind": args.kind, "part": spec_data(part)})
    return 0


def _data_parallel(
    run: _Run,
    *,
    gpus: int,
    degrees: dict[str, int],
    what: str,
    fits: Callable[[int], bool] = lambda dp: True,
    why: str = "",
) -> int:
    """dp of a layout whose other degrees multiply to ``prod(degrees)``, on ``gpus`` GPUs.

    ``--dp`` when given (more GPUs than ``--gpus`` is an error); else the largest
    dp that fits in the GPUs and for which ``fits(dp)``.  GPUs left idle are noted.
    """
    inner = math.prod(degrees.values())
    names = "*".join(degrees)
    factors = "*".join(map(str, degrees.values()))
    if inner > gpus:
        raise SpecError(
            f"--gpus {gpus} is fewer than the {what} needs: {names} = {factors} = {inner}"
        )
    dp = run.args.dp
    if dp is None:
        dp = next((d for d in range(gpus // inner, 0, -1) if fits(d)), 0)
        if dp == 0:
            raise SpecError(f"no dp <= {gpus // inner} {why}; give --dp")
        if dp * inner < gpus:
            run.notes.append(
                f"dp={dp} is the largest with {names}*dp <= {gpus}{' ' + why if why else ''}: "
                f"the {what} uses {dp * inner} of the {gpus} GPUs (give --dp to choose)"
            )
    elif dp * inner > gpus:
        raise SpecError(f"{names}*dp = {factors}*{dp} = {dp * inner} GPUs but --gpus is {gpus}")
    elif dp * inner < gpus:
        run.notes.append(f"the {what} uses {dp * inner} of the {gpus} GPUs")
    return int(run.use("dp", dp))


def _cmd_train(run: _Run) -> int:
    from .parallel import Layout
    from .predict import predict_training

    a = run.args
    model = catalog.model(run.use("model", a.model))
    gpus = run.use("gpus", a.gpus)
    tp, pp, cp = run.use("tp", a.tp), run.use("pp", a.pp), run.use("cp", a.cp)
    ep = run.use("ep", a.ep)
    vpp = run.use("vpp", a.vpp if a.vpp is not None else (5 if pp > 1 else 1))
    mb, gb = run.use("micro_batch", a.micro_batch), run.use("global_batch", a.global_batch)
    dp = _data_parallel(
        run,
        gpus=gpus,
        degrees={"tp": tp, "pp": pp, "cp": cp},
        what="layout",
        fits=lambda d: gb % (d * mb) == 0,
        why=f"that divides the global batch of {gb} into micro-batches of {mb}",
    )
    cluster = _cluster(run, gpus)
    hint = ""
    try:
        layout = Layout(
            tp=tp,
            pp=pp,
            dp=dp,
            cp=cp,
            ep=ep,
            vpp=vpp,
            micro_batch=mb,
            global_batch=gb,
            seq_len=run.use("seq_len", a.seq_len),
            precision=run.use("precision", a.precision),
            recompute=run.use("recompute", a.recompute),
            zero=run.use("zero", a.zero),
            placement=run.use("placement", a.placement),
            **_training_extras(run),
        )
        run.use("no_memory_check", a.no_memory_check)
        report = predict_training(
            model,
            cluster,
            layout,
            check_memory=not a.no_memory_check,
            efficiency=_calibrated(run, "training"),
        )
    except BlackwellModelError as exc:
        line = run.defaults_line()
        if line:
            hint = f" ({line})"
        raise _with_hint(exc, hint) from None
    precision = layout.precision.value
    run.notes.append(
        f"MFU and HFU are against the dense {precision} peak of {cluster.accelerator.name} "
        f"({format_quantity(report.peak_flops_per_gpu)} per GPU)"
    )
    result = report.to_dict()
    if report.energy is not None and "energy" not in result:
        result["energy"] = report.energy.to_dict()
    text = report.summary() + "\n" + _trust(run, report, result)
    run.emit(text, result)
    return 0


def _training_extras(run: _Run) -> dict[str, Any]:
    """Layout fields of the memory savers, MoE folding and pipeline split, when given."""
    a = run.args
    out: dict[str, Any] = {}
    for opt in (
        "etp", "offload_layers", "first_stage_layers", "last_stage_layers",
        "capacity_factor", "expert_load_cv", "moments_precision",
    ):  # fmt: skip
        value = getattr(a, opt)
        if value is not None:
            out[opt] = run.use(opt, value)
    if a.recompute_modules:
        mods = [m for m in a.recompute_modules.replace(",", " ").split() if m]
        out["recompute_modules"] = run.use("recompute_modules", mods)
    if a.grad_reduce is not None:
        out["grad_reduce_in_fp32"] = run.use("grad_reduce", a.grad_reduce) == "fp32"
    for flag, field in (
        ("fp8_weights", "low_precision_weights"),
        ("cuda_graphs", "cuda_graphs"),
        ("overlap_moe", "overlap_moe_comm"),
    ):
        if getattr(a, flag):
            out[field] = run.use(flag, True)
    return out


def _cmd_infer(run: _Run) -> int:
    from .parallel import InferenceLayout
    from .predict import predict_inference

    a = run.args
    if a.disaggregated:
        return _cmd_infer_disaggregated(run)
    model = catalog.model(run.use("model", a.model))
    tp, pp, ep = run.use("tp", a.tp), run.use("pp", a.pp), run.use("ep", a.ep)
    gpus = run.use("gpus", a.gpus if a.gpus is not None else tp * pp * (a.dp or 1))
    dp = _data_parallel(run, gpus=gpus, degrees={"tp": tp, "pp": pp}, what="deployment")
    layout = InferenceLayout(tp=tp, pp=pp, ep=ep, dp=dp)
    cluster = _cluster(run, gpus)
    serving = _serving_kwargs(run)
    calibrated = _calibrated(run, "inference")
    if calibrated is not None:
        if "efficiency" in serving:
            raise SpecError("give --calibration or --preset, not both (each sets the efficiency)")
        serving["efficiency"] = calibrated
    rep = predict_inference(
        model,
        cluster,
        layout,
        batch=a.batch,
        input_tokens=run.use("input_tokens", a.input_tokens),
        output_tokens=run.use("output_tokens", a.output_tokens),
        precision=run.use("precision", a.precision),
        kv_precision=a.kv_precision,
        **serving,
    )
    run.use("kv_precision", rep.kv_precision.value)
    run.use("batch", a.batch if a.batch is not None else "continuous")
    if a.batch is None:
        run.notes.append(
            f"continuous batching at the largest batch that fits ({rep.batch} per replica)"
        )
    mode = "static batch" if rep.static else "continuous batching"
    lines = [
        f"{rep.model_name} on {rep.cluster_name}: {rep.gpus} GPUs, tp={tp} pp={pp} ep={ep} "
        f"dp={dp}, {rep.precision.value} (KV {rep.kv_precision.value}), {mode}, batch "
        f"{rep.batch} per replica, {rep.input_tokens} in / {rep.output_tokens} out"
    ]
    rows = [
        ("time to first token", format_quantity(rep.time_to_first_token)),
        ("time per output token", format_quantity(rep.time_per_output_token)),
        ("output tokens/s", f"{rep.output_tokens_per_second.m:,.0f}"),
        ("output tokens/s per GPU", f"{rep.output_tokens_per_second_per_gpu.m:,.0f}"),
        ("tokens/s per user", f"{rep.tokens_per_second_per_user.m:,.1f}"),
        (
            "memory per GPU",
            f"{format_quantity(rep.memory_per_gpu)} of "
            f"{format_quantity(cluster.accelerator.memory_capacity)}",
        ),
        ("energy per output token", format_quantity(rep.energy_per_token)),
    ]
    lines += [f"  {k:<24} {v}" for k, v in rows]
    lines.append("  decode step:")
    lines += [
        f"    {part:<22} {format_quantity(t)}"
        for part, t in rep.decode_breakdown.items()
        if t.m > 0
    ]
    if rep.assumptions:
        lines.append("  assumptions:")
        lines += [f"    {k:<22} {v}" for k, v in rep.assumptions.items()]
    result = rep.to_dict()
    result["memory_capacity_B"] = float(cluster.accelerator.memory_capacity.m)
    lines.append(_trust(run, rep, result))
    run.emit("\n".join(lines), result)
    return 0


class _ProgressBar:
    """A one-line progress bar on a terminal stream, updated as candidates are evaluated."""

    width = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.drawn = False
        self.finished = False

    def __call__(self, done: int, total: int) -> None:
        filled = int(self.width * done / total) if total else self.width
        self.stream.write(
            f"\r  searching [{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{total:,}"
        )
        self.drawn = True
        if done >= total:
            self.stream.write("\n")
            self.finished = True
        self.stream.flush()

    def clear(self) -> None:
        """Erase an unfinished bar so that what follows starts on a clean line."""
        if self.drawn and not self.finished:
            self.stream.write("\r" + " " * (self.width + 40) + "\r")
            self.stream.flush()


#: Candidates per chunk of the command line's search: small enough that the
#: progress bar moves ~20 times on a 72k-candidate search, large enough that the
#: vectorised evaluation keeps its speed.
SEARCH_CHUNK = 4096

# the bar of the search in progress, erased on Ctrl-C
_ACTIVE_BAR: list[_ProgressBar] = []


def _cmd_search(run: _Run) -> int:
    from .study import search_layouts

    a = run.args
    model = catalog.model(run.use("model", a.model))
    gpus = run.use("gpus", a.gpus)
    cluster = _cluster(run, gpus)
    bar = _ProgressBar(sys.stderr) if not a.json and sys.stderr.isatty() else None
    if bar is not None:
        _ACTIVE_BAR.append(bar)
    res = search_layouts(
        model,
        cluster,
        global_batch=run.use("global_batch", a.global_batch),
        seq_len=run.use("seq_len", a.seq_len),
        precision=run.use("precision", a.precision),
        gpus=gpus,
        objective=run.use("objective", a.objective),
        progress=bar,
        chunk_size=SEARCH_CHUNK,
    )
    run.use("top", a.top)
    run.emit(res.summary(a.top), _search_data(res, a.top))
    return 0 if res.feasible else 1


def _search_data(res: Any, top: int) -> dict[str, Any]:
    return {
        "enumerated": res.enumerated,
        "feasible": res.feasible,
        "rejected": res.rejected,
        "reasons": res.reasons,
        "top": res.to_records(top),
    }


def _cmd_compare(run: _Run) -> int:
    from .study.report import Scenario, what_if_report

    a = run.args
    scenario = Scenario(
        model=run.use("model", a.model),
        train_gpus=run.use("gpus", a.gpus),
        global_batch=run.use("global_batch", a.global_batch),
        seq_len=run.use("seq_len", a.seq_len),
        tokens=run.use("tokens", a.tokens),
        serve_gpus=run.use("serve_gpus", a.serve_gpus),
        input_tokens=run.use("input_tokens", a.input_tokens),
        output_tokens=run.use("output_tokens", a.output_tokens),
        train_precision=run.use("precision", a.precision),
        serve_precision=run.use("serve_precision", a.serve_precision),
    )
    report = what_if_report([scenario], run.use("systems", list(a.systems)))
    if _serving_targets_given(a):
        return _compare_serving(run, report)
    if a.json:
        run.notes += [f"{r.model} on {r.system}: {r.note}" for r in report.rows if r.note]
        run.notes += list(report.assumptions)
    run.emit(report.format(), {"rows": report.to_records()})
    return 0


def _cmd_graph(run: _Run) -> int:
    from .topology import to_graph, to_graphml, to_node_link_json

    a = run.args
    part = catalog.cluster(a.system, gpus=a.gpus) if a.gpus else catalog.system(a.system)
    graph = to_graph(part)
    if a.format == "graphml":
        if a.output in (None, "-"):
            raise SpecError("GraphML needs --output FILE")
        to_graphml(graph, a.output)
    else:
        text = to_node_link_json(graph, None if a.output in (None, "-") else a.output)
        if a.output in (None, "-"):
            print(text)
    if a.output not in (None, "-"):
        print(
            f"wrote {a.output}: {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges",
            file=sys.stderr,
        )
    return 0


# ------------------------------------------------------------ trust (issue 14)
def _calibrated(run: _Run, side: str) -> Any:
    """The training or inference efficiency of ``--calibration FILE`` (None without it)."""
    path = run.args.calibration
    if path is None:
        return None
    from .trust import Calibration

    run.use("calibration", path)
    return getattr(Calibration.load(path), side)


def _trust(run: _Run, report: Any, result: dict[str, Any]) -> str:
    """The 80 % interval line of the text output; adds the interval and the evidence
    to the JSON result, and a note when the prediction is extrapolated."""
    iv = report.interval(0.8)
    name, (low, _, high) = next(iter(iv.values.items()))
    ev = report.evidence()
    result["interval"] = iv.to_dict()
    result["evidence"] = ev.to_dict()
    if not ev.validated:
        run.notes.append(ev.note)
    if run.args.calibration is not None:
        run.notes.append(
            "the interval describes the shipped defaults, not the --calibration parameters"
        )
    return (
        f"  80 % interval     {name} {format_quantity(low)} - {format_quantity(high)} "
        f"({iv.cases} comparable measured cases)"
    )


def _cmd_calibrate(run: _Run) -> int:
    from .trust import calibrate, load_measurements

    args = run.args
    if args.system is None and args.gpus is not None:
        raise SpecError("--gpus needs --system")
    if args.output:  # refuse an unwritable path before the fit, not after it
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise SpecError(
                f"-o/--output {args.output!r}: the folder {folder!r} does not exist or "
                "cannot be written"
            )
    data = load_measurements(run.use("manifest", args.manifest))
    cluster = None
    if args.system is not None:
        cluster = catalog.cluster(run.use("system", args.system), gpus=run.use("gpus", args.gpus))
    cal = calibrate(data, cluster, progress=None if args.json else _stderr_line)
    text = cal.summary()
    if args.output:
        cal.save(run.use("output", args.output))
        text += (
            f"\n\nwritten to {args.output}; use it with "
            f"`blackwell-model train --calibration {args.output}`"
        )
    run.emit(text, cal.to_dict())
    return 0


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr)


def _add_calibrate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit the efficiency parameters to your own measurements",
        description="Fit the model's efficiency parameters to measurements taken on your "
        "cluster: a TOML manifest naming GEMM sweeps (CSV), nccl-tests/rccl-tests outputs, "
        "memory bandwidths and training or serving runs (see examples/measurements/). "
        "Prints the fitted parameters, the residual of every measurement and the parameters "
        "the data did not constrain.",
    )
    p.add_argument("manifest", help="TOML manifest of measurements")
    p.add_argument(
        "--system", default=None, help="catalog system (default: the manifest's [cluster])"
    )
    p.add_argument("--gpus", type=_count, default=None, help="GPUs of --system")
    p.add_argument("-o", "--output", default=None, help="write the calibration as JSON")
    _common(p)
    p.set_defaults(func=_cmd_calibrate)


def _calibration_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="efficiency parameters fitted by `blackwell-model calibrate -o FILE`",
    )


# ------------------------------------------------------------------ parser
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit status 2) and no option abbreviations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _count(text: str) -> int:
    """A positive integer argument, at most 2**31 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer <= {MAX_INT:,}, got {text!r}"
        )
    return value


def _positive_float(text: str) -> float:
    """A finite number > 0 (``1.5e13``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _common(p: argparse.ArgumentParser, *, json_output: bool = True) -> None:
    """Options every subcommand shares: ``--json`` and ``--parts``."""
    if json_output:
        p.add_argument(
            "--json",
            action="store_true",
            help="one strict-JSON document (schema: the docs' JSON output page)",
        )
    p.add_argument(
        "--parts",
        action="append",
        metavar="FILE",
        help="load parts and models from a TOML file (catalog format) first; repeatable",
    )


def _batch_options(p: argparse.ArgumentParser, *, global_batch: int, seq_len: int = 8192) -> None:
    """``--global-batch`` and ``--seq-len`` of a training workload."""
    p.add_argument(
        "--global-batch",
        type=_count,
        default=global_batch,
        help="sequences per step (default: %(default)s)",
    )
    p.add_argument(
        "--seq-len",
        type=_count,
        default=seq_len,
        help="tokens per sequence (default: %(default)s)",
    )


def _length_options(p: argparse.ArgumentParser) -> None:
    """``--input-tokens`` and ``--output-tokens`` of a serving workload."""
    p.add_argument(
        "--input-tokens", type=_count, default=1000, help="prompt length (default: %(default)s)"
    )
    p.add_argument(
        "--output-tokens", type=_count, default=1000, help="answer length (default: %(default)s)"
    )


def _systems_argument(p: argparse.ArgumentParser) -> None:
    """The positional catalog systems of ``compare`` and ``size``."""
    p.add_argument(
        "systems",
        nargs="*",
        default=["DGX-H100", "GB200-NVL72"],
        help="catalog systems (default: DGX-H100 GB200-NVL72)",
    )


_PRECISIONS = ["bf16", "fp16", "fp8", "fp4"]


def _degree_options(p: argparse.ArgumentParser, **defaults: int) -> None:
    """``--tp``, ``--pp``... parallel degrees with their defaults."""
    for name, default in defaults.items():
        p.add_argument(
            f"--{name}", type=_count, default=default, help=f"{name} degree (default: %(default)s)"
        )


def _training_options(p: argparse.ArgumentParser) -> None:
    """Memory savers, MoE folding and pipeline-split options of ``train`` (off unless given)."""
    p.add_argument(
        "--etp",
        type=_count,
        default=None,
        help="expert tensor-parallel degree (default: 1 with ep > 1; ep*etp must divide "
        "tp*cp*dp, Megatron-Core's MoE parallel folding)",
    )
    p.add_argument(
        "--recompute-modules",
        default=None,
        metavar="LIST",
        help="recompute only these modules, comma-separated: core_attn, mlp, moe_act, "
        "layernorm, mla_up_proj, moe (Megatron-Core's --recompute-modules)",
    )
    p.add_argument(
        "--offload-layers",
        type=int,
        default=None,
        help="layers whose activations are offloaded to host memory (default: 0)",
    )
    p.add_argument(
        "--first-stage-layers",
        type=int,
        default=None,
        help="transformer layers on the first pipeline stage (default: an even split)",
    )
    p.add_argument(
        "--last-stage-layers",
        type=int,
        default=None,
        help="transformer layers on the last pipeline stage (default: an even split)",
    )
    p.add_argument(
        "--capacity-factor",
        type=_positive_float,
        default=None,
        help="MoE token capacity factor; tokens beyond it are dropped (default: dropless)",
    )
    p.add_argument(
        "--expert-load-cv",
        type=float,
        default=None,
        help="coefficient of variation of tokens per expert (default: the library's)",
    )
    p.add_argument(
        "--moments-precision",
        default=None,
        choices=["fp32", "bf16"],
        help="Adam moments precision (default: fp32; bf16 = precision-aware optimizer)",
    )
    p.add_argument(
        "--grad-reduce",
        default=None,
        choices=["fp32", "bf16"],
        help="gradient buffer and reduce dtype (default: fp32)",
    )
    p.add_argument(
        "--fp8-weights",
        action="store_true",
        help="keep only FP8 model weights (Transformer Engine fp8 parameters)",
    )
    p.add_argument("--cuda-graphs", action="store_true", help="capture the step in CUDA graphs")
    p.add_argument(
        "--overlap-moe",
        action="store_true",
        help="overlap the MoE all-to-all with compute (1F1B A2A overlap)",
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_PROG,
        description="Model AI hardware and predict what LLM workloads cost on it. "
        "With no command, print the main report on built-in defaults.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    p = sub.add_parser("catalog", help="list catalog entries or show one with its sources")
    p.add_argument("kind", nargs="?", help=f"one of: {', '.join(catalog.KINDS)}")
    p.add_argument("name", nargs="?", help="entry name (case-insensitive)")
    p.add_argument("--table", action="store_true", help="the accelerators side by side")
    _common(p)
    p.set_defaults(func=_cmd_catalog)

    p = sub.add_parser(
        "train",
        help="predict one training layout",
        description="Predict one training step: time, tokens/s, MFU, memory per GPU, energy "
        "and the time breakdown. The cluster is --gpus accelerators of --system with its "
        "default scale-out fabric. Options you do not give are listed under the output.",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_count, default=64, help="GPUs (default: %(default)s)")
    _degree_options(p, tp=4, pp=4, cp=2, ep=1)
    p.add_argument(
        "--vpp",
        type=_count,
        default=None,
        help="virtual pipeline chunks (default: 5 with pipeline parallelism, else 1)",
    )
    p.add_argument(
        "--dp",
        type=_count,
        default=None,
        help="data-parallel degree (default: the largest with tp*pp*cp*dp <= gpus that "
        "divides the global batch)",
    )
    p.add_argument(
        "--micro-batch",
        type=_count,
        default=1,
        help="sequences per micro-batch (default: %(default)s)",
    )
    _batch_options(p, global_batch=128, seq_len=8192)
    p.add_argument(
        "--precision",
        default="bf16",
        choices=_PRECISIONS,
        help="GEMM precision (default: %(default)s)",
    )
    p.add_argument(
        "--recompute",
        default="none",
        choices=["none", "selective", "full"],
        help="activation recomputation (default: %(default)s)",
    )
    p.add_argument(
        "--zero",
        type=int,
        default=1,
        choices=[0, 1, 2, 3],
        help="ZeRO stage; 3 = FSDP (default: %(default)s)",
    )
    p.add_argument(
        "--placement",
        default="tp-cp-ep-dp-pp",
        choices=["tp-cp-ep-dp-pp", "tp-cp-ep-pp-dp"],
        help="rank order, innermost first (default: %(default)s, Megatron-Core's)",
    )
    _training_options(p)
    p.add_argument(
        "--no-memory-check",
        action="store_true",
        help="report even if the layout does not fit in memory",
    )
    _calibration_option(p)
    _common(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "infer",
        help="predict serving latency, throughput, memory and energy",
        description="Predict serving one model: time to first token, time per output token, "
        "throughput, memory and energy per output token. Without --batch, continuous batching "
        "at the largest batch that fits (the throughput-optimal point).",
    )
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument(
        "--gpus",
        type=_count,
        default=None,
        help="GPUs of the deployment (default: tp*pp*dp); replicas fill them unless --dp is given",
    )
    _degree_options(p, tp=8, pp=1, ep=1)
    p.add_argument(
        "--dp",
        type=_count,
        default=None,
        help="replicas (default: as many as fit in --gpus, else 1)",
    )
    p.add_argument(
        "--batch",
        type=_count,
        default=None,
        help="static batch per replica (default: continuous batching at the largest batch that fits)",
    )
    _length_options(p)
    p.add_argument(
        "--precision",
        default="fp8",
        choices=[*_PRECISIONS, *_weight_formats()],
        help="weight precision or mixed format (default: %(default)s)",
    )
    p.add_argument(
        "--kv-precision",
        default=None,
        choices=_PRECISIONS,
        help="KV-cache precision (default: engine-like, FP8 for FP8/FP4 serving on "
        "Hopper/Blackwell)",
    )
    _serving_options(p)
    _calibration_option(p)
    _common(p)
    p.set_defaults(func=_cmd_infer)

    p = sub.add_parser(
        "search",
        help="rank every valid training layout",
        description="Enumerate every valid training layout (tp, pp, dp, cp, ep, vpp, micro-batch, "
        "recompute) of a model on --gpus GPUs, drop those that do not divide or fit (counted by "
        "rule), and rank the rest. Exit status 1 when nothing fits; 130 after Ctrl-C, with the "
        "layouts ranked so far.",
    )
    p.add_argument("--model", default="llama3-405b", help="catalog model (default: %(default)s)")
    p.add_argument("--system", default="DGX-H100", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_count, default=16384, help="GPUs (default: %(default)s)")
    _batch_options(p, global_batch=2048, seq_len=8192)
    p.add_argument(
        "--precision",
        default="bf16",
        choices=_PRECISIONS,
        help="GEMM precision (default: %(default)s)",
    )
    p.add_argument(
        "--objective",
        default="step_time",
        choices=["step_time", "memory", "mfu", "hfu", "tokens_per_second_per_gpu"],
        help="ranking (default: %(default)s)",
    )
    p.add_argument("--top", type=_count, default=10, help="rows to show (default: %(default)s)")
    _common(p)
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser(
        "compare",
        help="one workload on several systems, side by side",
        description="Train (best layout found by search) and serve one model on each system: "
        "step time, MFU, days, energy and cost of the run; serving throughput, latency, energy "
        "and cost per token. Prices are documented assumptions.",
    )
    _systems_argument(p)
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--gpus", type=_count, default=1024, help="training GPUs (default: %(default)s)")
    _batch_options(p, global_batch=1024, seq_len=8192)
    p.add_argument(
        "--tokens",
        type=_positive_float,
        default=15e12,
        help="tokens of the training run (default: %(default)g)",
    )
    p.add_argument(
        "--precision",
        default="bf16",
        choices=_PRECISIONS,
        help="training precision (default: %(default)s)",
    )
    p.add_argument(
        "--serve-gpus",
        type=_count,
        default=8,
        help="GPUs of one serving deployment (default: %(default)s)",
    )
    p.add_argument(
        "--serve-precision",
        default="fp8",
        choices=_PRECISIONS,
        help="serving precision (default: %(default)s)",
    )
    _length_options(p)
    _serving_options(p, kv=True)
    _common(p)
    p.set_defaults(func=_cmd_compare)

    _add_size_command(sub)
    _add_plan_command(sub)

    p = sub.add_parser(
        "graph",
        help="export a topology graph",
        description="Export the topology graph of a system (one scale-up domain) or, with "
        "--gpus, of a cluster of them, as node-link JSON (default) or GraphML.",
    )
    p.add_argument("--system", default="GB200-NVL72", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_count, default=None, help="build a cluster of this many GPUs")
    p.add_argument(
        "--format",
        choices=["json", "graphml"],
        default="json",
        help="output format (default: %(default)s)",
    )
    p.add_argument(
        "-o", "--output", default=None, help="output file (default: JSON to standard output)"
    )
    _common(p, json_output=False)
    p.set_defaults(func=_cmd_graph, json=False)
    _add_calibrate_parser(sub)
    return parser


# ------------------------------------------------------- serving options (issue 13)
def _weight_formats() -> list[str]:
    from .solvers.serving_params import WEIGHT_FORMATS

    return sorted(WEIGHT_FORMATS)


def _serving_options(p: argparse.ArgumentParser, *, kv: bool = False) -> None:
    """Latency targets, engine limits and deployment shape of a serving prediction."""
    p.add_argument("--max-ttft", default=None, help="time-to-first-token target, e.g. 2s")
    p.add_argument("--max-tpot", default=None, help="time-per-output-token target, e.g. 30ms")
    p.add_argument(
        "--max-batch",
        type=_count,
        default=None,
        help="engine max_batch_size per replica (default: memory-bound)",
    )
    p.add_argument(
        "--disaggregated",
        default=None,
        metavar="PREFILL:DECODE",
        help="separate prefill and decode pools, e.g. tp4:tp8 or tp8:tp1,dp32,ep32",
    )
    p.add_argument(
        "--preset",
        default=None,
        help="serving-engine preset (e.g. trtllm-pytorch-2025; default: library defaults)",
    )
    p.add_argument(
        "--charge",
        choices=["gpus", "racks"],
        default="gpus",
        help="charge shared rack switches per GPU used or whole racks (default: %(default)s)",
    )
    _speculation_option(p)
    if kv:
        p.add_argument(
            "--kv-precision",
            default=None,
            choices=["bf16", "fp16", "fp8", "fp4"],
            help="KV-cache precision (default: engine-like)",
        )


def _serving_targets_given(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, k, None) is not None
        for k in (
            "max_ttft", "max_tpot", "max_batch", "disaggregated", "preset", "kv_precision",
            "speculation",
        )
    )  # fmt: skip


_SPECULATION_FORM = (
    "METHOD:k=K,alpha=A or METHOD:k=K,length=L (METHOD one of draft, eagle, mtp, ngram; "
    "draft also needs draft=MODEL)"
)


def _speculation_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--speculation",
        default=None,
        metavar="METHOD:k=K,alpha=A",
        help="speculative decoding: METHOD mtp, eagle, draft or ngram, K drafted tokens per "
        "step, per-token acceptance rate A (or length=L, the measured mean tokens per step); "
        "draft=MODEL for a draft model, overhead=TIME per step; e.g. mtp:k=3,alpha=0.7 "
        "(default: none)",
    )


def _speculation(run: _Run) -> Any:
    """The :class:`~blackwell_model.solvers.speculation.Speculation` of ``--speculation``, or None."""
    from .solvers.speculation import Speculation

    text = getattr(run.args, "speculation", None)
    if text is None:
        return None
    try:
        spec = Speculation.parse(text)
    except BlackwellModelError as exc:
        raise SpecError(f"--speculation must be {_SPECULATION_FORM}, got {text!r}: {exc}") from None
    run.use("speculation", text)
    return spec


def _parse_layout(text: str) -> Any:
    """``tp4``, ``tp=4``, ``tp8,ep8`` or ``dep8`` (tp1, dp8, ep8) -> InferenceLayout."""
    import re

    from .errors import SpecError
    from .parallel import InferenceLayout

    fields: dict[str, int] = {}
    for part in text.replace(" ", "").split(","):
        m = re.fullmatch(r"(dep|tp|pp|ep|dp)=?(\d+)", part)
        if not m:
            raise SpecError(
                f"--disaggregated layout {text!r}: expected items like tp4, ep8, dp8 or dep8 "
                "separated by commas"
            )
        key, n = m.group(1), int(m.group(2))
        if key == "dep":
            fields.update(tp=1, dp=n, ep=n)
        else:
            fields[key] = n
    return InferenceLayout(**fields)


def _serving_kwargs(run: _Run) -> dict[str, Any]:
    """predict_inference keywords from the serving options."""
    from .solvers.serving_params import EngineLimits
    from .solvers.serving_presets import serving_preset

    args = run.args
    out: dict[str, Any] = {
        "max_tpot": run.use("max_tpot", args.max_tpot),
        "max_ttft": run.use("max_ttft", args.max_ttft),
        "charge": run.use("charge", args.charge),
    }
    limits = EngineLimits()
    if args.preset is not None:
        preset = serving_preset(run.use("preset", args.preset))
        out["efficiency"] = preset.efficiency
        out["memory"] = preset.memory
        limits = preset.limits or limits
    if args.max_batch is not None:
        limits = attrs.evolve(limits, max_batch_size=run.use("max_batch", args.max_batch))
    out["limits"] = limits
    spec = _speculation(run)
    if spec is not None:
        out["speculation"] = spec
    return out


def _cmd_infer_disaggregated(run: _Run) -> int:
    from .predict.disaggregated import DisaggregatedDeployment, predict_disaggregated

    args = run.args
    pre_text, sep, dec_text = args.disaggregated.partition(":")
    if not sep:
        from .errors import SpecError

        raise SpecError(
            f"--disaggregated must be PREFILL:DECODE layouts, e.g. tp4:tp8, got "
            f"{args.disaggregated!r}"
        )
    pre, dec = _parse_layout(pre_text), _parse_layout(dec_text)
    run.use("disaggregated", args.disaggregated)
    gpus = run.use("gpus", args.gpus or pre.gpus + dec.gpus)
    cluster = _cluster(run, gpus)
    kw = _serving_kwargs(run)
    dep = DisaggregatedDeployment(
        prefill_cluster=cluster,
        decode_cluster=cluster,
        prefill_layout=pre,
        decode_layout=dec,
        prefill_precision=run.use("precision", args.precision),
        decode_precision=args.precision,
        kv_precision=args.kv_precision,
        decode_batch=args.batch,
    )
    rep = predict_disaggregated(
        catalog.model(run.use("model", args.model)),
        dep,
        input_tokens=run.use("input_tokens", args.input_tokens),
        output_tokens=run.use("output_tokens", args.output_tokens),
        max_tpot=args.max_tpot,
        max_ttft=args.max_ttft,
        decode_efficiency=kw.get("efficiency"),
        memory=kw.get("memory"),
        decode_limits=kw["limits"],
        charge=args.charge,
        speculation=kw.get("speculation"),
    )
    run.emit(rep.summary(), rep.to_dict())
    return 0


def _compare_serving(run: _Run, report: Any) -> int:
    """compare with serving options: each system's best point under the targets."""
    from .predict.sizing import serving_frontier

    args = run.args
    for opt in ("max_ttft", "max_tpot", "disaggregated", "preset"):
        run.use(opt, getattr(args, opt))
    spec = _speculation(run)
    rows = []
    for name in args.systems:
        cluster = catalog.cluster(name, gpus=max(args.serve_gpus, 1))
        front = serving_frontier(
            catalog.model(args.model),
            cluster,
            input_tokens=args.input_tokens,
            output_tokens=args.output_tokens,
            precision=args.serve_precision,
            disaggregated=args.disaggregated is not None,
            preset=args.preset,
            speculation=spec,
        )
        pt = front.best_under(ttft=args.max_ttft, tpot=args.max_tpot)
        rows.append(
            {
                "system": name,
                "shape": pt.shape,
                "layout": pt.label,
                "batch": pt.batch,
                "ttft_s": pt.ttft_s,
                "tpot_s": pt.tpot_s,
                "tokens_per_second_per_user": pt.tokens_per_second_per_user,
                "tokens_per_second_per_gpu": pt.tokens_per_second_per_gpu,
            }
        )
    text = (
        report.format()
        + f"\n\nServing {args.model} at its best layout and batch with TTFT <= {args.max_ttft} "
        f"and TPOT <= {args.max_tpot} ({args.input_tokens} in / {args.output_tokens} out):\n"
        + _table(
            ["system", "shape", "layout", "batch", "TTFT", "TPOT", "tok/s/user", "tok/s/GPU"],
            [
                [
                    r["system"],
                    r["shape"],
                    r["layout"],
                    str(r["batch"]),
                    f"{r['ttft_s'] * 1e3:.0f} ms",
                    f"{r['tpot_s'] * 1e3:.1f} ms",
                    f"{r['tokens_per_second_per_user']:.1f}",
                    f"{r['tokens_per_second_per_gpu']:,.0f}",
                ]
                for r in rows
            ],
        )
    )
    run.emit(text, {"rows": report.to_records(), "serving": rows})
    return 0


def _add_size_command(sub: Any) -> None:
    p = sub.add_parser(
        "size",
        help="GPUs, racks, $/Mtok and J/token for a request rate under latency targets",
        description="Size a serving deployment: for each system, the best layout, batch and "
        "shape (aggregated or disaggregated) under --max-ttft/--max-tpot, and the GPUs and "
        "racks needed for --rate requests/s, with dollars per million output tokens and "
        "facility joules per output token. Prices are documented assumptions.",
    )
    _systems_argument(p)
    p.add_argument("--model", default="llama3-70b", help="catalog model (default: %(default)s)")
    p.add_argument("--rate", type=float, default=10.0, help="requests/s (default: %(default)s)")
    _length_options(p)
    p.add_argument(
        "--lengths",
        default=None,
        help="length mix IN/OUT:SHARE,... e.g. 1000/200:0.7,8000/1000:0.3 (overrides the above)",
    )
    p.add_argument("--max-ttft", default="2s", help="TTFT target (default: %(default)s)")
    p.add_argument("--max-tpot", default="50ms", help="TPOT target (default: %(default)s)")
    p.add_argument(
        "--precision",
        default="fp8",
        choices=["bf16", "fp16", "fp8", "fp4", *_weight_formats()],
        help="weight precision or format (default: %(default)s)",
    )
    p.add_argument(
        "--gpus",
        type=_count,
        default=72,
        help="GPUs one instance may span (default: %(default)s)",
    )
    p.add_argument("--preset", default=None, help="serving-engine preset")
    _speculation_option(p)
    p.add_argument(
        "--aggregated-only", action="store_true", help="do not consider disaggregated pools"
    )
    _common(p)
    p.set_defaults(func=_cmd_size)


def _parse_lengths(text: str) -> list[tuple[int, int, float]]:
    from .errors import SpecError

    out = []
    for item in text.split(","):
        try:
            io_part, _, share = item.partition(":")
            i, o = io_part.split("/")
            out.append((int(i), int(o), float(share or 1.0)))
        except ValueError:
            raise SpecError(
                f"--lengths item {item!r}: expected IN/OUT:SHARE such as 1000/200:0.7"
            ) from None
    return out


def _cmd_size(run: _Run) -> int:
    from .predict.sizing import size_deployment

    args = run.args
    for opt in (
        "model", "systems", "rate", "input_tokens", "output_tokens", "lengths",
        "max_ttft", "max_tpot", "precision", "gpus", "preset", "aggregated_only",
    ):  # fmt: skip
        value = getattr(args, opt)
        if value is not None:
            run.use(opt, value)
    model = catalog.model(args.model)
    clusters = []
    for name in args.systems:
        dom = catalog.system(name).gpus
        clusters.append(catalog.cluster(name, gpus=min(args.gpus, max(dom, 8))))
    res = size_deployment(
        model,
        clusters,
        request_rate=args.rate,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        lengths=_parse_lengths(args.lengths) if args.lengths else None,
        ttft=args.max_ttft,
        tpot=args.max_tpot,
        precision=args.precision,
        preset=args.preset,
        disaggregated=not args.aggregated_only,
        speculation=_speculation(run),
    )
    run.emit(res._text(), {"rows": [dict(r) for r in res.rows]})
    return 0


def _add_plan_command(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="size a fleet by GPUs or a power budget; failures of a fleet-wide job",
        description="Size a fleet of a system (racks or servers) to a GPU count and/or a "
        "facility power budget, with its cooling and PUE; with --model, the interruptions, "
        "checkpoint interval and goodput of one job across the whole fleet.",
    )
    p.add_argument("--system", default="GB200-NVL72", help="catalog system (default: %(default)s)")
    p.add_argument("--gpus", type=_count, default=None, help="GPUs wanted")
    p.add_argument("--power-budget", default=None, help='facility power, e.g. "150 MW"')
    p.add_argument("--cooling", choices=["air", "liquid"], default=None, help="re-cool the racks")
    p.add_argument(
        "--pue", type=_positive_float, default=None, help="facility PUE (default: by cooling)"
    )
    p.add_argument("--fabric", default=None, help="scale-out fabric (default: the system's)")
    p.add_argument("--model", default=None, help="a model for the fleet-wide job's goodput")
    _common(p)
    p.set_defaults(func=_cmd_plan)


def _cmd_plan(run: _Run) -> int:
    from .solvers.reliability import job_goodput
    from .solvers.site import Facility
    from .study.fleet import plan_fleet

    args = run.args
    for opt in ("system", "gpus", "power_budget", "cooling", "pue", "fabric", "model"):
        value = getattr(args, opt)
        if value is not None:
            run.use(opt, value)
    facility = Facility(cooling=args.cooling, pue=args.pue)
    plan = plan_fleet(
        args.system,
        gpus=args.gpus,
        power_budget=args.power_budget,
        facility=facility,
        fabric=args.fabric,
    )
    goodput = None
    if args.model:
        params = float(catalog.model(args.model).total_params)
        goodput = job_goodput(plan.cluster, plan.gpus, parameters=params)
    out = plan.to_dict()
    text = plan.summary()
    if goodput is not None:
        out["fleet_wide_job"] = {"model": args.model, **goodput.to_dict()}
        text += (
            f"\n\nA fleet-wide synchronous job of {args.model}:\n  "
            + goodput.summary().replace("\n", "\n  ")
        )
    run.emit(text, out)
    return 0


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]  # type: ignore[no-any-return]
    raise KeyError(command)  # pragma: no cover


def _main_report() -> int:
    from .study.report import what_if_report

    print("blackwell-model: what-if report on built-in defaults\n")
    print(what_if_report().format())
    print(
        "\nMore: `blackwell-model --help`, `blackwell-model catalog --table` (accelerators "
        "side by side), `blackwell-model compare --help`."
    )
    return 0


def _interrupted(exc: KeyboardInterrupt, run: _Run | None) -> int:
    for bar in _ACTIVE_BAR:
        bar.clear()
    partial = getattr(exc, "partial", None)
    what = str(exc) or "interrupted"
    if partial is not None and run is not None and hasattr(partial, "summary"):
        top = getattr(run.args, "top", 10)
        run.notes.append(f"interrupted: {what}; partial result")
        run.emit(partial.summary(top), _search_data(partial, top))
    print(f"{_PROG}: interrupted" + (f": {what}" if what != "interrupted" else ""), file=sys.stderr)
    return 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    run: _Run | None = None
    _ACTIVE_BAR.clear()
    try:
        with catalog._isolated():  # --parts entries last for this command only
            if args.command is None:
                return _main_report()
            given = _given(_subparser(parser, args.command), argv, args)
            run = _Run(command=args.command, args=args, given=given)
            if args.parts:
                run.use("parts", list(args.parts))
            for path in args.parts or ():
                catalog.load_toml(path)
            func: Callable[[_Run], int] = args.func
            return int(func(run))
    except Interrupted as exc:
        return _interrupted(exc, run)
    except KeyboardInterrupt as exc:
        return _interrupted(exc, run)
    except BlackwellModelError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `blackwell-model | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, with a way to see the traceback
        if os.environ.get("BLACKWELL_MODEL_DEBUG"):
            raise
        text = " ".join(str(exc).split())
        print(
            f"{_PROG}: internal error: {type(exc).__name__}: {text} "
            "(set BLACKWELL_MODEL_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
