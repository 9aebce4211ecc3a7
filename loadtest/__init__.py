"""The load-test harness (`stoa load`): drives a server with real speakers and thousands of listeners,
and measures what each listener heard of what was said.

Speakers run in compiled pools (`mixer.SpeakerPool`) paced by one capture clock; listeners in compiled
pools (`mixer.ListenerPool`: one epoll thread in each worker process, for the listeners of every space),
each keeping a bitmap of the clock's slots it heard; hosts and a few sampled listeners that decode and
check the audio are Python clients. `coverage.py` defines coverage; docs/operations.md ("Load testing") explains it.
"""
