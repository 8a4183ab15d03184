"""What if HBM were twice as fast?  Parts, evolve and the training predictor.

Run: ``python examples/what_if_hbm.py``
"""

import attrs

import blackwell_model as bm

b200 = bm.catalog.accelerator("B200-GB200")  # the B200 inside a GB200 superchip
print(b200.peak("bf16").to("PFLOP/s"), b200.memory_bandwidth.to("TB/s"))
print("ridge point:", b200.ridge_point("bf16"))

hbm4 = attrs.evolve(b200, memory_bandwidth="16 TB/s")  # what if HBM were twice as fast?
print("ridge point with 16 TB/s:", hbm4.ridge_point("bf16"))

# Put the faster part into every GB200 superchip of an NVL72 rack.
rack = bm.catalog.system("GB200-NVL72")
faster_rack = bm.with_accelerator(rack, hbm4)

model = bm.catalog.model("llama3-70b")
layout = bm.Layout(tp=4, pp=2, dp=9, micro_batch=1, global_batch=144, seq_len=8192, precision="fp8")
for name, system in (("GB200-NVL72", rack), ("GB200-NVL72 + 16 TB/s HBM", faster_rack)):
    cluster = bm.catalog.cluster(system, gpus=72)
    report = bm.predict_training(model, cluster, layout)
    print(f"{name:<28} step {report.step_time.to('s'):.3f~P}  MFU {report.mfu:.1%}")
