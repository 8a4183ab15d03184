"""Fuzzing the edges (issue 12): constructors, TOML loading and every CLI subcommand.

Whatever goes in, what comes out is a result or one of the library's own errors
(:class:`~blackwell_model.errors.BlackwellModelError`); at the command line one
line on standard error and a documented exit status, never a traceback; every
``--json`` output is strict JSON; nothing runs longer than a few seconds.

The default run keeps the example counts small (a few seconds in all); the
``slow`` variants explore more.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import math
import multiprocessing
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blackwell_model as bm
from blackwell_model.errors import BlackwellModelError

SECONDS = 10  # no single case may take longer


@contextlib.contextmanager
def time_limit(seconds: int = SECONDS) -> Iterator[None]:
    """Fail a case that runs past ``seconds`` (Python-level work; the CLI cases run in a
    child process instead, which a hang in C code cannot escape)."""

    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"case ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


#: Values that broke, or could break, an edge: text that looks like a flag, a number
#: or an expression; NUL and blanks; integers past 64 bits; NaN; containers; objects.
NASTY: list[Any] = [
    None, "", " ", "\x00", "a\x00b", "\n", "false", "true", "yes", "nan", "inf",
    "9**9**9 GB/s", "2*3 TB/s", "TB/s", "1 GB/s", "-1 W", "700 W", "80 GB", "1e400 W",
    "0.6 us", "12", "-3", "1e3", "²", 0, -1, 1, 2, 3, 8, 2**31, 2**63, 2**64, 10**30,
    0.5, -0.0, 1.5, math.nan, math.inf, 1e308, True, False, [], {}, ["x"], [1, 2], [2, 4],
    {"bf16": "1 TFLOP/s"}, {"bf16": 5}, {"x": "y"}, b"bytes", object(),
    "NVLink4", "nvlink4", "H100-SXM", "QM9700", "Grace", "GB200", "DGX-H100", "GB200-NVL72",
    "IB-NDR-fat-tree", "fat_tree", "switched", "torus", "mesh", "nvlink", "infiniband",
    "liquid", "air", "bf16", "fp8", "selective", "full", "tp-cp-ep-dp-pp", "llama3-8b",
]  # fmt: skip
nasty = st.sampled_from(NASTY)


def _specimens() -> dict[str, Callable[[], Any]]:
    cat = bm.catalog
    return {
        "LinkSpec": lambda: cat.link("NVLink4"),
        "SwitchSpec": lambda: cat.switch("QM9700"),
        "CPU": lambda: cat.cpu("Grace"),
        "Accelerator": lambda: cat.accelerator("H100-SXM"),
        "Superchip": lambda: cat.superchip("GB200"),
        "Node": lambda: cat.system("DGX-H100").node,
        "ScaleUpDomain": lambda: cat.system("DGX-H100"),
        "Fabric": lambda: cat.fabric("IB-NDR-fat-tree"),
        "Cluster": lambda: cat.cluster("DGX-H100", gpus=12),
        "InferenceLayout": lambda: bm.InferenceLayout(tp=8),
        "Layout": lambda: bm.Layout(tp=8, global_batch=64, seq_len=4096),
        "Transformer": lambda: cat.model("llama3-8b"),
        "PowerModel": bm.PowerModel,
        "Pricing": lambda: bm.Pricing(gpu_hour_price="2 USD/h"),
        "PhaseActivity": lambda: bm.solvers.PhaseActivity(1.0, 0.5),
    }


SPECIMENS = _specimens()


def _fields(obj: Any) -> list[str]:
    return [f.name for f in attrs.fields(type(obj)) if f.init]


def _only_library_errors(call: Callable[[], Any], what: str) -> Any:
    try:
        with time_limit():
            return call()
    except BlackwellModelError:
        return None
    except Exception as exc:  # pragma: no cover - what the test is for
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}") from exc


@st.composite
def _changes(draw: st.DrawFn, fields: list[str]) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=3, unique=True))
    return {k: draw(nasty) for k in keys}


def _construct(kind: str, data: st.DataObject) -> None:
    base = SPECIMENS[kind]()
    changes = data.draw(_changes(_fields(base)), label="changes")
    what = f"{kind} with {changes!r}"
    obj = _only_library_errors(lambda: attrs.evolve(base, **changes), what)
    if obj is not None and hasattr(obj, "to_dict") and hasattr(type(obj), "from_dict"):
        # what was accepted prints, serialises and loads back to an equal object
        _only_library_errors(lambda: repr(obj) + obj.summary(), f"summary of {what}")
        again = _only_library_errors(lambda: type(obj).from_dict(obj.to_dict()), what)
        assert again is None or again == obj, what
    # the same values through from_dict (the TOML path)
    if hasattr(type(base), "from_dict") and hasattr(base, "to_dict"):
        plain = {**base.to_dict(), **changes}
        _only_library_errors(lambda: type(base).from_dict(plain), f"{kind}.from_dict {changes!r}")


_FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
_SLOW = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@pytest.mark.parametrize("kind", sorted(SPECIMENS))
@_FAST
@given(data=st.data())
def test_fuzz_constructors(kind, data):
    _construct(kind, data)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SPECIMENS))
@_SLOW
@given(data=st.data())
def test_fuzz_constructors_thoroughly(kind, data):
    _construct(kind, data)


# ------------------------------------------------------------------ TOML loading
_TOML_VALUES = st.one_of(
    st.sampled_from(
        [
            '""', '" "', '"\\u0000"', '"false"', "false", "true", "0", "-1", "12", "1.5",
            "nan", "inf", "9223372036854775807", "-9223372036854775808", '"9**9**9 GB/s"',
            '"TB/s"', '"1 GB/s"', '"700 W"', '"NVLink4"', '"nvlink"', "[]", '["NVLink4"]',
            '"xyz"', "{}", '{ bf16 = "1 TFLOP/s" }', '{ bf16 = 5 }', "[[[[[1]]]]]",
            "1979-05-27T07:32:00Z", '"' + "x" * 300 + '"',
        ]
    ),
    st.text(max_size=20).map(json.dumps),
)  # fmt: skip
_KINDS = ["link", "switch", "cpu", "accelerator", "superchip", "node", "system", "fabric", "model"]
_FIELDS = [
    "name", "aliases", "kind", "bandwidth", "latency", "ports", "port_bandwidth", "tdp",
    "memory_capacity", "memory_bandwidth", "peak_flops", "scale_up_link", "scale_up_ports", "nic",
    "accelerator", "accelerators", "cpu", "superchip", "superchips", "node", "nodes", "switch",
    "switches", "topology", "tiers", "oversubscription", "sharp", "default_fabric", "layers",
    "hidden", "heads", "vocab", "sources", "notes", "vendor",
]  # fmt: skip


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()) and draw(st.booleans()):
        return draw(st.binary(max_size=200))
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(_KINDS))
        name = draw(st.sampled_from(["Fz-1", "fz-1", "NVLink4", "H100-SXM", "", "a b"]))
        lines.append(f"[{kind}.{json.dumps(name)}]")
        for field in draw(st.lists(st.sampled_from(_FIELDS), max_size=6, unique=True)):
            lines.append(f"{field} = {draw(_TOML_VALUES)}")
    text = "\n".join(lines) + "\n"
    return (
        text.encode("utf-8", "surrogatepass")
        if draw(st.booleans())
        else text.encode("utf-8", "replace")
    )


def _load(doc: bytes, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "parts.toml"
    path.write_bytes(doc)
    with bm.catalog._isolated():
        _only_library_errors(lambda: bm.catalog.load_toml(path), f"load_toml({doc[:200]!r})")
        # and the catalog still answers for its own parts
        assert bm.catalog.link("NVLink4").bandwidth.m == pytest.approx(25e9)


@_FAST
@given(doc=toml_documents())
def test_fuzz_toml_loading(doc, tmp_path_factory):
    _load(doc, tmp_path_factory)


@pytest.mark.slow
@_SLOW
@given(doc=toml_documents())
def test_fuzz_toml_loading_thoroughly(doc, tmp_path_factory):
    _load(doc, tmp_path_factory)


# ------------------------------------------------------------------ command line
_NUMBERS = ["0", "-1", "1", "2", "3", "4", "7", "8", "12", "16", "64", "72", "1000", "abc", "",
            "1e3", "2147483647", "2147483648", "99999999999999999999", "nan", " 8"]  # fmt: skip
_NAMES = ["llama3-8b", "LLAMA3-8B", "llama3-70b", "mixtral-8x7b", "nope", "", "\x01", "DGX-H100",
          "GB200-NVL72", "MI300X-8", "H100-SXM", "NVLink4", "-x"]  # fmt: skip
_PRECISIONS = ["bf16", "fp8", "fp4", "fp16", "int3", ""]

_OPTIONS: dict[str, dict[str, list[str]]] = {
    "catalog": {"--table": [], "--json": []},
    "train": {
        "--model": _NAMES, "--system": _NAMES, "--gpus": _NUMBERS, "--tp": _NUMBERS,
        "--pp": _NUMBERS, "--cp": _NUMBERS, "--ep": _NUMBERS, "--vpp": _NUMBERS,
        "--dp": _NUMBERS, "--micro-batch": _NUMBERS, "--global-batch": _NUMBERS,
        "--seq-len": _NUMBERS, "--precision": _PRECISIONS, "--recompute": ["none", "full", "x"],
        "--zero": ["0", "1", "3", "4", "x"], "--placement": ["tp-cp-ep-pp-dp", "x"],
        "--no-memory-check": [], "--json": [], "--etp": _NUMBERS,
        "--recompute-modules": ["mlp", "core_attn,moe_act", "x", ""],
        "--offload-layers": ["0", "4", "-1", "x"], "--first-stage-layers": ["0", "3", "-2"],
        "--last-stage-layers": ["2", "1000"], "--capacity-factor": ["1.0", "0", "nan", "x"],
        "--expert-load-cv": ["0.2", "-1", "inf"], "--moments-precision": ["bf16", "x"],
        "--grad-reduce": ["bf16", "fp32", "x"], "--fp8-weights": [], "--cuda-graphs": [],
        "--overlap-moe": [],
    },
    "infer": {
        "--model": _NAMES, "--system": _NAMES, "--gpus": _NUMBERS, "--tp": _NUMBERS,
        "--pp": _NUMBERS, "--ep": _NUMBERS, "--dp": _NUMBERS, "--batch": _NUMBERS,
        "--input-tokens": _NUMBERS, "--output-tokens": _NUMBERS, "--precision": _PRECISIONS,
        "--kv-precision": _PRECISIONS, "--json": [],
        "--max-ttft": ["2s", "0s", "5", "x"], "--max-tpot": ["30ms", "1us", "-1 ms"],
        "--max-batch": _NUMBERS, "--disaggregated": ["tp4:tp8", "tp4", "x:y", "tp1:dep8"],
        "--preset": ["trtllm-pytorch-2025", "nope"], "--charge": ["gpus", "racks", "x"],
        "--speculation": ["mtp:k=3,alpha=0.7", "ngram:k=2,alpha=0.5", "eagle:k=4,tau=2.5",
                          "draft:k=3", "x", "mtp:k=0", "ngram:k=3,alpha=1.5", ""],
    },
    "search": {
        "--model": _NAMES, "--system": _NAMES, "--gpus": ["8", "16", "64", "72", "0", "x"],
        "--global-batch": _NUMBERS, "--seq-len": ["1024", "4096", "0", "7"],
        "--precision": _PRECISIONS, "--objective": ["mfu", "memory", "x"], "--top": _NUMBERS,
        "--json": [],
    },
    "compare": {
        "--model": ["llama3-8b", "nope", ""], "--gpus": ["8", "16", "64", "0"],
        "--global-batch": ["64", "128", "7", "0"], "--seq-len": ["2048", "4096", "0"],
        "--tokens": ["1e9", "0", "-5", "nan", "inf", "1e400", "x"],
        "--serve-gpus": ["1", "8", "0", "3"], "--precision": _PRECISIONS,
        "--serve-precision": _PRECISIONS, "--input-tokens": ["100", "0"],
        "--output-tokens": ["100", "0"], "--json": [],
    },
    "size": {
        "--model": ["llama3-8b", "nope", ""], "--rate": ["5", "0", "-1", "nan", "x"],
        "--input-tokens": ["100", "0"], "--output-tokens": ["100", "0"],
        "--lengths": ["1000/200:0.7,4000/500:0.3", "x", "1/2", "1000/200:-1"],
        "--max-ttft": ["2s", "0s", "x"], "--max-tpot": ["50ms", "x"],
        "--precision": _PRECISIONS, "--gpus": ["8", "0", "x"], "--preset": ["nope"],
        "--aggregated-only": [], "--json": [],
        "--speculation": ["ngram:k=2,alpha=0.5", "x", "mtp:k=-1"],
    },
    "plan": {
        "--system": _NAMES, "--gpus": ["72", "1000", "0", "x"],
        "--power-budget": ["2 MW", "0 MW", "5", "x"], "--cooling": ["air", "liquid", "x"],
        "--pue": ["1.1", "0.5", "0", "x"], "--fabric": _NAMES, "--model": ["llama3-8b", "nope"],
        "--json": [],
    },
    "calibrate": {
        "--system": _NAMES, "--gpus": ["8", "16", "0", "x"], "-o": ["", "/nonexistent/dir/c.json"],
        "--json": [],
    },
    "graph": {
        "--system": _NAMES, "--gpus": ["8", "16", "72", "144", "0", "x"],
        "--format": ["json", "graphml", "x"], "-o": ["-", "", "/nonexistent/dir/g.xml"],
    },
}  # fmt: skip
_EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "measurements"
_MANIFEST_DIR = Path(tempfile.mkdtemp(prefix="bm-fuzz-"))
atexit.register(shutil.rmtree, _MANIFEST_DIR, True)
_MANIFEST = str(_MANIFEST_DIR / "small.toml")  # a small valid manifest: fuzz cases stay fast
(_MANIFEST_DIR / "small.toml").write_text(
    '[cluster]\nsystem = "DGX-H100"\ngpus = 8\n\n'
    '[[memory]]\nbandwidth = "2.9 TB/s"\nkind = "stream"\n\n'
    f'[[collectives]]\nfile = "{_EXAMPLES / "all_reduce_perf_8gpu.txt"}"\n'
)

_POSITIONALS = {
    "catalog": st.lists(
        st.sampled_from(
            ["link", "accelerator", "model", "nope", "NVLink4", "H100-SXM", "", "\x00"]
        ),
        max_size=3,
    ),
    "compare": st.lists(st.sampled_from(["DGX-H100", "MI300X-8", "nope", ""]), max_size=2),
    "calibrate": st.lists(
        st.sampled_from(
            [_MANIFEST, "/nonexistent.toml", "", "\x00", str(_EXAMPLES / "gemm_sweep_h100.csv")]
        ),
        min_size=1,
        max_size=1,
    ),
    "size": st.lists(st.sampled_from(["DGX-H100", "GB200-NVL72", "nope", ""]), max_size=2),
}
_CHEAP = ["catalog", "train", "infer", "graph"]


@st.composite
def command_lines(draw: st.DrawFn, commands: list[str]) -> list[str]:
    command = draw(st.sampled_from(commands))
    argv = [command]
    options = _OPTIONS[command]
    for option in draw(st.lists(st.sampled_from(sorted(options)), max_size=5, unique=True)):
        argv.append(option)
        if options[option]:
            argv.append(draw(st.sampled_from(options[option])))
    if command in _POSITIONALS:
        argv += draw(_POSITIONALS[command])
    if command == "compare" and len(argv) == 1:
        argv += ["--gpus", "16", "--global-batch", "64", "--model", "llama3-8b"]
    if command == "size" and "--model" not in argv:
        argv += ["--model", "llama3-8b"]
    if command == "plan" and "--gpus" not in argv and "--power-budget" not in argv:
        argv += ["--gpus", "144"]
    if command == "search" and "--gpus" not in argv:
        argv += ["--gpus", "64"]
    if command == "graph" and "--format" in argv and "graphml" in argv and "-o" not in argv:
        argv += ["-o", "-"]
    return argv


def _child(argv: list[str], conn: Any) -> None:  # pragma: no cover - runs in the child
    from blackwell_model.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:
            code = -1
            err.write(f"ESCAPED {type(exc).__name__}: {exc}\n")
    conn.send((code, out.getvalue(), err.getvalue()))
    conn.close()


def run_isolated(argv: list[str], seconds: int = SECONDS) -> tuple[int, str, str]:
    """Run the command line in a forked child; fail if it runs past ``seconds``."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(argv, child))
    proc.start()
    child.close()
    if not parent.poll(seconds):
        proc.kill()
        proc.join()
        raise AssertionError(f"blackwell-model {argv} ran longer than {seconds} s")
    code, out, err = parent.recv()
    proc.join()
    return code, out, err


def _check_cli(argv: list[str]) -> None:
    code, out, err = run_isolated(argv)
    shown = f"blackwell-model {argv!r} -> {code}\nstdout: {out[-500:]}\nstderr: {err[-800:]}"
    assert code in (0, 1, 2), shown  # 1: search found nothing; 2: wrong input; 3 would be a bug
    assert "Traceback" not in err and "ESCAPED" not in err, shown
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("blackwell-model"), shown
        assert out == "", shown
    if "--json" in argv and code in (0, 1):

        def refuse(constant: str) -> None:
            raise AssertionError(f"not JSON: {constant}\n{shown}")

        doc = json.loads(out, parse_constant=refuse)
        assert doc["schema"] == "blackwell-model/1", shown


@_FAST
@given(argv=command_lines(_CHEAP))
def test_fuzz_cli(argv):
    _check_cli(argv)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(argv=command_lines(sorted(_OPTIONS)))
def test_fuzz_cli_every_subcommand(argv):
    _check_cli(argv)


@pytest.mark.parametrize("command", sorted(_OPTIONS))
def test_each_subcommand_is_fuzzed(command):
    """Every subcommand of the parser has a fuzz entry (a new one must be added here)."""
    from blackwell_model.cli import _build_parser

    parser = _build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    assert set(sub.choices) == set(_OPTIONS)
    options = {o for a in sub.choices[command]._actions for o in a.option_strings}
    assert set(_OPTIONS[command]) <= options
