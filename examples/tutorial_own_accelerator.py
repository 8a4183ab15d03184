"""Adding your own accelerator from a TOML file, and comparing it with H100.

Run: ``python examples/tutorial_own_accelerator.py`` (about a second).

The question
    Your vendor pitches the (imaginary) Acme A1: 1.5 PFLOP/s dense BF16,
    144 GB of HBM3e at 6 TB/s, 18 NVLink 5 links, 900 W, sold as an 8-GPU
    server.  How would it train and serve Llama 3 70B compared with the
    DGX H100 you run today?

What the script does
    1. Writes a TOML file describing the accelerator, its server and the
       8-GPU system into a temporary directory.  The format is the
       catalog's own: one table per entry, quantities as strings with
       units, other parts referred to by their catalog names, and a
       ``sources`` table saying where each number comes from.
    2. Loads it with ``bm.catalog.load_toml``; from then on the new names
       work everywhere a catalog name does (``bm.catalog.cluster``, the
       ``--parts`` option of the command line).
    3. Compares the parts, a training step (best layout on 64 GPUs) and
       serving throughput (one server, FP8, TPOT <= 30 ms) with DGX H100.
    4. Loads a file with a mistake in it, to show the error you get.

How to read the answer
    The new part is priced by the same roofline and collective models as
    every catalog part, so the comparison is as good as the numbers you
    put in: vendor peaks are usually sparse (halve them) and rarely
    reached.  Dense BF16 and HBM bandwidth set training and serving speed;
    capacity sets how few GPUs a job fits on and the largest serving batch.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import blackwell_model as bm
from blackwell_model.units import format_quantity

PARTS_TOML = """\
# An imaginary accelerator, its 8-GPU server and the NVLink domain of that server.
[accelerator."Acme-A1"]
vendor = "Acme"
memory_capacity = "144 GB"
memory_bandwidth = "6 TB/s"
memory_type = "HBM3e"
tdp = "900 W"
scale_up_link = "NVLink5"          # a catalog link, by name
scale_up_ports = 18
nic = "IB-NDR-400G"
peak_flops = { bf16 = "1500 TFLOP/s", fp16 = "1500 TFLOP/s", fp8 = "3000 TFLOP/s" }
sources = { peak_flops = "Acme A1 product brief rev 0.9, table 2 (sparse figures halved)", memory_bandwidth = "Acme A1 product brief rev 0.9", tdp = "assumption" }

[node."Acme-A1-server"]
accelerator = "Acme-A1"
accelerators = 8
cpu = "Xeon-8480C"
cpus = 2
nic = "IB-NDR-400G"
nics_per_accelerator = 1
host_link = "PCIe-Gen5-x16"
sources = { accelerators = "Acme A1 product brief rev 0.9" }

[system."Acme-A1-8"]
default_fabric = "IB-NDR-fat-tree"  # what bm.catalog.cluster() joins servers with
node = "Acme-A1-server"
nodes = 1
topology = "switched"
switch = "NVLink-Switch"
switches = 2
cooling = "air"
max_power = "11 kW"
sources = { max_power = "assumption" }
"""

# The same file with one mistake: a bandwidth given in bytes, not bytes per second.
BROKEN_TOML = PARTS_TOML.replace('memory_bandwidth = "6 TB/s"', 'memory_bandwidth = "6 TB"')

MODEL = bm.catalog.model("llama3-70b")
REQUEST = {"input_tokens": 2000, "output_tokens": 500, "precision": "fp8"}
LATENCY = "30 ms"


def serving(system: str) -> tuple[float, int]:
    """Output tokens/s per GPU of one TP-8 server at TPOT <= LATENCY, and the batch."""
    server = bm.catalog.cluster(system, gpus=8)
    layout = bm.InferenceLayout(tp=8)
    coarse = bm.inference_sweep(MODEL, server, layout, **REQUEST)
    batches = np.arange(1, coarse.max_batch + 1)
    point = bm.inference_sweep(MODEL, server, layout, batches=batches, **REQUEST).best_under(
        latency=LATENCY
    )
    return point.tokens_per_second_per_gpu.m, point.batch


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "acme_parts.toml"
        path.write_text(PARTS_TOML, encoding="utf-8")

        # 1-2. Load the file.  The result is {kind: {name: part}}; with
        #      register=True (the default) the parts also join the catalog.
        loaded = bm.catalog.load_toml(path)
        for kind, parts in loaded.items():
            print(f"loaded {kind}: {', '.join(parts)}")
        acme = bm.catalog.accelerator("Acme-A1")
        print("sources of Acme-A1:")
        for field, source in acme.sources.items():
            print(f"  {field:<17} {source}")
        print()

        # 3. Compare with DGX H100, part by part ...
        systems = ("DGX-H100", "Acme-A1-8")
        print(f"{'system':<10} {'GPU':<9} {'BF16':>13} {'HBM':>9} {'HBM BW':>10} {'TDP':>6}")
        for name in systems:
            acc = bm.catalog.system(name).accelerator
            print(
                f"{name:<10} {acc.name:<9} {format_quantity(acc.peak('bf16')):>13} "
                f"{format_quantity(acc.memory_capacity):>9} "
                f"{format_quantity(acc.memory_bandwidth):>10} {format_quantity(acc.tdp):>6}"
            )
        print()

        # ... in training: the best layout for each on 64 GPUs (8 servers) ...
        clusters = {name: bm.catalog.cluster(name, gpus=64) for name in systems}
        results = bm.search_many(MODEL, clusters, global_batch=128, seq_len=8192, top=3)
        print("Training Llama 3 70B on 64 GPUs, 128 x 8192 tokens per step, BF16")
        print(bm.study.comparison(results))
        h100, acme_step = results["DGX-H100"].best, results["Acme-A1-8"].best
        print(
            f"Acme-A1: {(acme_step.tokens_per_second / h100.tokens_per_second).m:.2f}x the "
            f"tokens/s of H100, {(acme_step.energy_per_token / h100.energy_per_token).m:.2f}x "
            f"the energy per token\n"
        )

        # ... and in serving.
        print(f"Serving Llama 3 70B FP8 on one 8-GPU server, TP8, TPOT <= {LATENCY}")
        served = {name: serving(name) for name in systems}
        for name, (tps, batch) in served.items():
            ratio = tps / served["DGX-H100"][0]
            print(
                f"{name:<10} {tps:>6,.0f} output tok/s per GPU (batch {batch}), {ratio:.2f}x H100"
            )
        print()

        # 4. A mistake is caught when the file is loaded, with the file, entry and field.
        broken = Path(tmp) / "broken.toml"
        broken.write_text(BROKEN_TOML, encoding="utf-8")
        try:
            bm.catalog.load_toml(broken, register=False)
        except bm.BlackwellModelError as err:
            print(f"Loading a broken file raises {type(err).__name__}:")
            print(f"  {err}".replace(tmp, "<tmp>"))


if __name__ == "__main__":
    main()
