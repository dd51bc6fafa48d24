"""``manage.py redis_status``: role, replicas, memory, breaker and top hotkeys at a glance."""

import json

from django.core.management.base import BaseCommand, CommandError

from cache import hotkeys, metrics
from cache.breaker import RedisUnavailable


class Command(BaseCommand):
    help = "Show Redis role, replicas, memory, circuit breaker state and top hotkeys."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--window", type=int, default=60, help="hotkey window (seconds)")
        parser.add_argument("--top", type=int, default=10)

    def handle(self, *args, **options):
        data = metrics.collect(with_hotkeys=False)
        if data["available"]:
            try:
                data["hotkeys"] = hotkeys.top_hotkeys(options["top"], options["window"])
            except RedisUnavailable:
                data["hotkeys"] = []
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, default=str))
        else:
            self._print(data, options["window"])
        if not data["available"]:
            raise CommandError(f"Redis unavailable: {data['error']}")

    def _print(self, data: dict, window: int) -> None:
        out = self.stdout.write
        breaker = data["breaker"]
        out(
            f"breaker     {breaker['state']} (failures {breaker['fail_counter']}/"
            f"{breaker['fail_max']}, last transition {breaker['last_transition']})"
        )
        if not data["available"]:
            return
        info = data["server"]["info"]
        repl = data["server"]["replication"]
        out(f"role        {repl['role']}  redis {info.get('redis_version')}")
        for replica in repl.get("replicas", []):
            out(
                f"replica     {replica['address']} {replica['state']} "
                f"lag {replica['lag_bytes']} bytes / {replica['lag_seconds']} s"
            )
        if repl["role"] != "master":
            out(
                f"link        {repl.get('master_link_status')} "
                f"(last io {repl.get('lag_seconds')} s ago)"
            )
        out(
            f"memory      used {info.get('used_memory')} peak {info.get('used_memory_peak')} "
            f"fragmentation {info.get('mem_fragmentation_ratio')}"
        )
        out(f"clients     {info.get('connected_clients')}  pool {data['pool']}")
        out(f"keyspace    {data['server']['keyspace']}")
        out(f"hotkeys     top {len(data['hotkeys'])} over {window} s")
        for row in data["hotkeys"]:
            out(f"  {row['rate']:>10.2f}/s  {row['key']}")
