"""Calibrate on your own cluster, then read every prediction with its uncertainty.

Run: ``python examples/tutorial_calibrate.py`` (about 10 s).

The question
    I measured my 2-node DGX H100 cluster: a GEMM sweep, nccl-tests runs,
    memory bandwidth, a few training step times and serving latencies.  How
    do I make the model predict *my* cluster, how far can I trust a
    prediction for a run I have not made yet, and what should I buy more of?

What the script does
    1. Fits the efficiency parameters to the example measurements in
       ``examples/measurements/`` (``bm.calibrate``): what was fitted, the
       residual of every kind of measurement, and what the data left
       unconstrained.  The files are synthetic EXAMPLES (made by the model
       with changed parameters plus 2-3 % noise), not real measurements.
    2. Predicts a planned Llama 3 70B run with the shipped defaults and with
       the calibration, each with its 80 % interval from the validation
       residuals of comparable published cases.
    3. Says which predictions have published measurements behind them: the
       same run on MI300X is an extrapolation, and its interval is wider.
    4. Ranks the hardware figures by how much the step time responds to them
       (elasticities), the "what should I buy more of" answer.

How to read the answer
    The residuals show how well the fitted model reproduces your own
    measurements; the parameters it could not pin down keep the shipped
    values.  The interval of a prediction comes from the shipped validation
    cases, not from your measurements: with a calibration in hand, your own
    residuals (a few per cent here) are the better guide for runs like the
    ones you measured, and the interval for runs unlike them.  An elasticity
    of -0.7 means 10 % more of that figure makes the step about 7 % shorter.
"""

from __future__ import annotations

from pathlib import Path

import blackwell_model as bm
from blackwell_model.units import format_quantity

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "measurements" / "h100_cluster.toml"
PLAN = bm.Layout(tp=8, pp=4, dp=2, vpp=5, global_batch=256, seq_len=8192, precision="fp8")


def main() -> None:
    # 1. Calibrate.  A manifest names the files; bm.calibrate reads and fits them.
    cal = bm.calibrate(MANIFEST)
    print(f"calibrated on {cal.hardware}: {len(cal.residuals)} measurements\n")
    print(f"{'parameter':<40} {'shipped':>9} {'fitted':>9}")
    for name, value in cal.fitted.items():
        print(f"{name:<40} {cal.start[name]:>9.4g} {value:>9.4g}")
    print("not constrained by these measurements:", ", ".join(cal.unconstrained))
    kinds = dict.fromkeys(r.kind for r in cal.residuals)
    print("rms residual:", ", ".join(f"{k} {cal.rms_log_error(k):.1%}" for k in kinds))
    cal.save("my_cluster_calibration.json")  # reload with bm.Calibration.load(...)

    # 2. A planned run, with the shipped defaults and with the calibration.
    model = bm.catalog.model("llama3-70b")
    cluster = bm.catalog.cluster("DGX-H100", gpus=64)
    print(f"\nplanned run: {model.name} on {cluster.name}, {PLAN.label}")
    for label, eff in (("shipped defaults", None), ("calibrated", cal.training)):
        rep = bm.predict_training(model, cluster, PLAN, efficiency=eff)
        iv = rep.interval(0.8)
        print(
            f"  {label:<17} step {format_quantity(rep.step_time):>9}  MFU {rep.mfu:.1%}  "
            f"80 % interval {format_quantity(iv.low)} - {format_quantity(iv.high)}"
        )
    print(f"  {rep.evidence().note}")

    # 3. The same run on a part no published measurement covers.
    mi300 = bm.catalog.cluster("MI300X-8", gpus=64)
    rep_amd = bm.predict_training(model, mi300, PLAN)
    iv = rep_amd.interval(0.8)
    print(
        f"\n  MI300X            step {format_quantity(rep_amd.step_time):>9}  MFU {rep_amd.mfu:.1%}  "
        f"80 % interval {format_quantity(iv.low)} - {format_quantity(iv.high)}"
    )
    print(f"  {rep_amd.evidence().note}")

    # 4. What should I buy more of?
    sens = bm.predict_training(model, cluster, PLAN, efficiency=cal.training).sensitivity()
    print("\nelasticity of the calibrated step time (-0.5: +10 % of the figure, -5 % time)")
    for name, value in sens.ranked("rate")[:5] + sens.ranked("latency")[:2]:
        print(f"  {name:<22} {value:+.3f}")
    print(f"  sum over rates - latencies: {sens.homogeneity:+.3f} (-1 if no fixed overheads)")


if __name__ == "__main__":
    main()
