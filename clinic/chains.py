"""Bounded task chains: at most N copies of a self-re-enqueueing task at once.

A chain is a task that works for a short time, then enqueues itself again
while work remains, so adding worker processes adds throughput without one
task holding a worker for minutes. The bound keeps that from growing
without limit: every chain holds one of N numbered slots, a Redis key
whose value is the chain's token, and a run works only while its token is
still in its slot.

- take: `SET key token NX EX ttl` on each free slot; a slot already held is
  left alone, so however many beat ticks and wake-ups start chains, at most
  N exist.
- keep: at the start of each run the chain renews its slot's expiry if the
  slot still holds its token (one Lua call, so the check and the renewal
  cannot be split by another process).
- give back: a chain that finds no more work deletes its slot, again only
  if the slot still holds its token.

A worker that dies mid-chain leaves its slot held until the TTL passes; the
other slots work meanwhile. A chain message that waited in the queue past
the TTL may find its slot taken by a newer chain: it then does nothing, so
the bound holds. Slots are named after the database, so a test database and
the development one never share them.

This module knows no app: the caller names the chain and sizes it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

# Renew the slot's expiry only while it holds our token.
_KEEP = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
# Delete the slot only while it holds our token.
_GIVE_BACK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


@dataclass(frozen=True)
class Slot:
    """One chain's place: its number among the N slots, and the token that proves the slot is still its own."""

    number: int
    token: str


@functools.cache
def _redis(url: str) -> redis.Redis:
    # Short timeouts: a chain that cannot reach Redis should say so, not hang its worker.
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


@dataclass(frozen=True)
class ChainSlots:
    """The N slots of one kind of chain. `size` and `ttl_seconds` are called on each use, so they may read settings."""

    name: str
    size: Callable[[], int]
    ttl_seconds: Callable[[], int]

    def take(self, count: int) -> list[Slot]:
        """Take up to `count` free slots; return those taken (none when every slot is held)."""
        taken: list[Slot] = []
        for number in range(self.size()):
            if len(taken) >= count:
                break
            token = uuid.uuid4().hex
            if self._client().set(self._key(number), token, nx=True, ex=self.ttl_seconds()):
                taken.append(Slot(number, token))
        return taken

    def keep(self, slot: Slot) -> bool:
        """Renew `slot`'s expiry if it is still ours; return False if another chain holds it now, or nobody."""
        return bool(self._client().eval(_KEEP, 1, self._key(slot.number), slot.token, self.ttl_seconds()))

    def give_back(self, slot: Slot) -> None:
        """Free `slot` if it is still ours."""
        self._client().eval(_GIVE_BACK, 1, self._key(slot.number), slot.token)

    def release_all(self) -> None:
        """Free every slot: for tests, and for an operator after a crash (running chains stop at their next link)."""
        self._client().delete(*(self._key(number) for number in range(self.size())))

    def held(self) -> int:
        """How many slots are held at this moment."""
        return sum(1 for number in range(self.size()) if self._client().exists(self._key(number)))

    def _key(self, number: int) -> str:
        return f"clinic:chains:{connection.settings_dict['NAME']}:{self.name}:{number}"

    def _client(self) -> redis.Redis:
        return _redis(settings.REDIS_URL)
