"""The built-in stack, created through AWS calls as terraform/ would: queues, Lambda, state machine, REST API."""
