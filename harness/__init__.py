"""What the tests and the benchmark run against: the emulator process, per-test stacks in it, and
controllers served over real HTTP, started the way `python -m controller` starts one."""
