import gc

from shared.collector import YOUNG_THRESHOLD, tune_for_batches


def test_tuning_freezes_what_start_up_built_and_collects_young_objects_in_larger_rounds():
    before = gc.get_threshold()
    try:
        tune_for_batches()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
