"""The load-test harness (`stoa load`): drives a server with real speakers and thousands of listeners,
and measures what each listener heard of what was said.

Speakers run in compiled pools (`mixer.SpeakerPool`) paced by one capture clock; listeners in compiled
pools (`mixer.ListenerPool`: one epoll thread in each worker process, for the listeners of every space),
each keeping a bitmap of the clock's slots it heard; hosts and a few sampled listeners that decode and
check the audio are Python clients. `coverage.py` defines coverage; docs/operations.md ("Load testing") explains it.
"""

# After a wait that found data, each compiled pool's thread sleeps this long before it waits again
# (`mixer.ListenerPool`, `linger_us`): messages arriving meanwhile are read together, without waking
# it for each (on loopback the server's sending thread would run every wake-up). Two messages of one
# connection read together both carry the later one's arrival stamp (counted in `restamped`), so
# lingering can overstate latency, never understate it.
LINGER_US = 2000
