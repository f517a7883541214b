"""Lambda without Docker: moto's invocations run the deployed zip in warm worker processes."""
