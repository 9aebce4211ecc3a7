"""Request handlers, one module per concept: plain async functions `(caller, message) -> reply` over the
narrow context of `gateway/context.py`. `gateway/requests.py` is the table that routes to them."""
