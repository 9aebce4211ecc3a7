"""The WebSocket gateway: the wire protocol, one Session per connection, the server, and a Python client."""
