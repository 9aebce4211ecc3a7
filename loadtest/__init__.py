"""The load-test harness (`stoa load`): drives a server with real speakers and thousands of listeners.

Listeners run in compiled pools (`mixer.ListenerPool`, one epoll thread each) spread over worker
processes; speakers and a few sampled listeners that decode and check the audio are Python clients.
"""
