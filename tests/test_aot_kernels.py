"""benchmarks/aot_kernels.py counts kernel launches from compiled HLO text: its parser, on a known program."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "aot_kernels.py"
spec = importlib.util.spec_from_file_location("aot_kernels", SCRIPT)
aot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(aot)

HLO = """HloModule step

%fused_computation (p: f32[4]) -> f32[4] {
  %p = f32[4]{0} parameter(0)
  ROOT %e = f32[4]{0} exponential(f32[4]{0} %p)
}

%body (state: (s32[], f32[4])) -> (s32[], f32[4]) {
  %state = (s32[], f32[4]{0}) parameter(0)
  %i = s32[] get-tuple-element((s32[], f32[4]{0}) %state), index=0
  %x = f32[4]{0} get-tuple-element((s32[], f32[4]{0}) %state), index=1
  %fusion.1 = f32[4]{0} fusion(f32[4]{0} %x), kind=kLoop, calls=%fused_computation
  %custom-call.2 = f32[4]{0} custom-call(f32[4]{0} %fusion.1), custom_call_target="__cublas$gemm"
  %fusion.3 = s32[] fusion(s32[] %i), kind=kLoop, calls=%fused_computation
  ROOT %tuple = (s32[], f32[4]{0}) tuple(s32[] %fusion.3, f32[4]{0} %custom-call.2)
}

%cond (state: (s32[], f32[4])) -> pred[] {
  %state = (s32[], f32[4]{0}) parameter(0)
  ROOT %c = pred[] constant(true)
}

ENTRY %main.9 (a: f32[4]) -> f32[4] {
  %a = f32[4]{0} parameter(0)
  %copy.1 = f32[4]{0} copy(f32[4]{0} %a)
  %init = (s32[], f32[4]{0}) tuple(s32[] %z, f32[4]{0} %copy.1)
  %while.5 = (s32[], f32[4]) while(%init), condition=%cond, body=%body, backend_config={"known_trip_count":{"n":"20"}}
  %out = f32[4]{0} get-tuple-element((s32[], f32[4]{0}) %while.5), index=1
  ROOT %fusion.9 = f32[4]{0} fusion(f32[4]{0} %out), kind=kLoop, calls=%fused_computation
}
"""


def test_launches_count_loop_bodies_once_per_trip():
    computations, entry = aot.parse_computations(HLO)
    assert entry == "main.9" and {"body", "cond", "fused_computation"} <= computations.keys()
    assert aot.launches(computations, "body") == 3  # two fusions and a cuBLAS call; tuples are free
    assert aot.launches(computations, entry) == 1 + 20 * 3 + 1  # the copy, the loop, the last fusion
