"""Request ids from a pool of OS randomness (aigw/http/common.py RandomHex)."""

from __future__ import annotations

import os
import re
import threading

from aigw.http.common import RandomHex, new_request_id


def test_ids_have_the_shape_and_never_repeat_across_refills() -> None:
    ids = [new_request_id() for _ in range(3000)]  # past ten refills of the pool
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_never_share_an_id() -> None:
    source = RandomHex(8, batch=4)  # a small pool: threads race its refills
    seen: list[list[str]] = [[] for _ in range(8)]

    def take(out: list[str]) -> None:
        out.extend(source() for _ in range(500))

    threads = [threading.Thread(target=take, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for out in seen for i in out]
    assert len(ids) == 4000 and len(set(ids)) == 4000
    assert all(len(i) == 16 for i in ids)


def test_a_forked_child_does_not_reuse_its_parents_pool() -> None:
    source = RandomHex(12)
    source()  # the pool now holds the next 255 ids
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, then out
        os.write(write, source().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    from_child = os.read(read, 100).decode()
    os.close(read)
    assert from_child != source()  # the parent's next id is not the child's
