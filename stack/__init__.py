"""The stack both deployments share: where its files are, its names and settings, the state machine
template, and the Lambda package. Terraform users, the emulator, the controller and the tests use it."""
