"""Random sequences of every op keep records and indexes in agreement (Store.check)."""

from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsswitch.journal import keys
from smsswitch.journal.ops import (
    AckOutbox,
    AddOutbox,
    Correlate,
    DeadLetterMessage,
    DeadLetterOutbox,
    DeleteDeadLetter,
    DeleteMessage,
    EraseRef,
    PutMessage,
    Redrive,
    RescheduleOutbox,
    Transition,
)
from smsswitch.journal.records import MessageRecord, MessageState, OutboxEntry, OutboxKind
from smsswitch.journal.store import Store, open_env

IDS = [f"{n:020x}" for n in range(1, 7)]
NUMBERS = ["+263771000001", "263771000001", "+263772000002", "ACME", "12345"]
ids = st.sampled_from(IDS)
numbers = st.sampled_from(NUMBERS)
times = st.floats(min_value=0, max_value=2e9, allow_nan=False)

records = st.builds(
    MessageRecord,
    id=ids,
    tenant=st.sampled_from(["acme", "globex"]),
    source=numbers,
    destination=numbers,
    created=times,
    state=st.sampled_from(MessageState),
    carrier_id=st.none() | st.sampled_from(["ff", "255", "a", "10"]),
    connector=st.sampled_from(["c1", "c2"]),
    validity=st.none() | times,
)
entries = st.builds(
    OutboxEntry,
    id=ids,
    tenant=st.sampled_from(["acme", "globex"]),
    kind=st.sampled_from(OutboxKind),
    msisdn=st.none() | numbers,
    created=times,
)
operations = st.one_of(
    st.builds(PutMessage, records),
    st.builds(
        Transition,
        ids,
        st.sampled_from(MessageState),
        times,
        connector=st.none() | st.sampled_from(["c1", "c2"]),
        carrier_id=st.none() | st.sampled_from(["ff", "255", "0a", "7"]),
        due=st.none() | times,
    ),
    st.builds(Correlate, ids, st.sampled_from(["c1", "c2"]), st.sampled_from(["ff", "255", "x-1"])),
    st.builds(DeleteMessage, ids),
    st.builds(AddOutbox, entries),
    st.builds(AckOutbox, ids),
    st.builds(RescheduleOutbox, ids, times),
    st.builds(DeadLetterOutbox, ids, st.just("expired"), times),
    st.builds(DeadLetterMessage, ids, st.just("no route"), times),
    st.builds(Redrive, ids, times),
    st.builds(DeleteDeadLetter, ids),
    st.builds(EraseRef, st.just("263771000001"), st.sampled_from([keys.TAG_MESSAGE, keys.TAG_OUTBOX, keys.TAG_DEAD_LETTER]), ids),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(operations, min_size=1, max_size=4), min_size=1, max_size=12))
def test_random_op_sequences_keep_indexes_consistent(batches) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = open_env(tmp, map_size=8 << 20, sync=False)
        try:
            store = Store(env)
            for batch in batches:
                with env.begin(write=True) as txn:
                    for op in batch:
                        op.apply(store, txn)
                with env.begin() as txn:
                    problems = store.check(txn)
                    counts = store.counts(txn)
                assert problems == [], (batch, problems)
                in_states = sum(v for k, v in counts.items() if k.startswith("state."))
                assert in_states == counts["messages"]
        finally:
            env.close()
