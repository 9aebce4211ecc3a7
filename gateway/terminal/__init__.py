"""The terminal clients: `stoa listen` (play a space, or record it to Ogg Opus) and `stoa speak` (send a WAV or
Ogg Opus file, or the microphone, into a space), built on `gateway.client`."""

from gateway.terminal import listen, speak

__all__ = ["listen", "speak"]
