"""How work is split among processes (core.distributed): contiguous shards that cover every item once,
and one process that takes everything."""

import numpy as np
import pytest

from videodpo.core.distributed import gather_rows, my_shard, shard_bounds


@pytest.mark.parametrize("count, world", [(8, 2), (7, 2), (10, 3), (3, 3), (5, 1)])
def test_shards_are_contiguous_blocks_that_cover_every_item_once(count, world):
    blocks = [shard_bounds(count, rank, world) for rank in range(world)]
    assert [i for block in blocks for i in block] == list(range(count))
    sizes = [len(block) for block in blocks]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_a_rank_outside_the_world_is_refused():
    with pytest.raises(ValueError, match="rank 2"):
        shard_bounds(4, 2, 2)


def test_one_process_takes_everything_and_gathering_is_the_identity():
    assert my_shard(5) == range(5)
    rows = np.arange(30, dtype=np.uint8).reshape(5, 6)
    assert gather_rows(rows, 5) is rows
