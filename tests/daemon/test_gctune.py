"""The daemon's collector settings: frozen start-up objects, spaced-out passes."""

import gc
import weakref

from smsswitch.gctune import GEN0_THRESHOLD, tune_for_daemon


def test_tune_freezes_startup_objects_and_raises_the_gen0_threshold():
    before = gc.get_threshold()
    try:
        startup_state = [{"route": i} for i in range(1000)]
        tune_for_daemon()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() >= len(startup_state)
        # Cyclic garbage made after start-up is still collected.
        node = _Node()
        node.me = node
        ref = weakref.ref(node)
        del node
        gc.collect()
        assert ref() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class _Node:
    me: object = None
