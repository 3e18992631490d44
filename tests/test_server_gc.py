from __future__ import annotations

import gc

from xroad_vtj.api.server import GC_YOUNG_THRESHOLD, tune_gc


def test_serving_freezes_start_up_objects_and_collects_the_young_generation_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *threshold[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
