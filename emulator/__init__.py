"""An AWS stand-in on one machine: moto's server plus what moto lacks for this workflow.

- `patches/`: corrections to moto, one module per service, installed by `patches.apply()`.
- `lambda_runner/`: runs Lambda functions in warm local processes instead of Docker.
- `apigateway/`: the API Gateway moto does not serve: routing, mapping templates, validation, API keys.
- `provision/`: the built-in stack, created through AWS calls.
- `hosts.py`: the guard that lets only local clients reach either server; `__main__.py` starts them all.
"""
