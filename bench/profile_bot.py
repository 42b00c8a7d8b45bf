"""Run bot.py with every thread under cProfile; `bench/run.py --profile FILE` uses it.

cProfile sees only the thread that enabled it, and the desk's work is spread over the polling
thread, the dispatcher and the sending threads, so each thread gets its own profiler and they are
merged into one pstats file when the bot exits (on SIGTERM, as BotProcess.stop sends). The
clock is each thread's own CPU time, so waiting (long polls, network, sleeps) costs nothing in it.
Usage: python bench/profile_bot.py OUTPUT.prof   (in the bot's working directory, as bot.py).
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Profile bot.py's main() and every thread it starts; write the merged stats."""
    out = sys.argv[1]
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    thread_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            thread_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run            # type: ignore[method-assign]
    sys.argv = [str(ROOT / "bot.py")]
    sys.path.insert(0, str(ROOT))
    main_profile = cProfile.Profile(time.thread_time)
    main_profile.enable()
    try:
        runpy.run_path(str(ROOT / "bot.py"), run_name="__main__")
    finally:
        main_profile.disable()
        with lock:
            stats = pstats.Stats(main_profile)
            for profile in profiles:
                profile.disable()                  # a daemon thread may still be running
                try:
                    stats.add(profile)
                except TypeError:                  # a thread that recorded nothing
                    pass
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
