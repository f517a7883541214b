"""Lambda: where moto's answers differ from AWS's."""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction

from emulator.patches.replacing import Fix, Replacements

_LOGGING_CONFIG = "logging_config"  # an attribute moto's LambdaFunction lacks


def _keep_logging_config(replacements: Replacements) -> None:
    create, describe = LambdaFunction.__init__, LambdaFunction.get_configuration
    update = LambdaFunction.update_configuration

    def init(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        create(self, account_id, spec, *args, **kwargs)
        setattr(self, _LOGGING_CONFIG, spec.get("LoggingConfig") or {})

    def get_configuration(self: LambdaFunction, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Lambda's defaults for what was not given: plain-text logs in /aws/lambda/<name>.
        defaults = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{self.function_name}"}
        given = getattr(self, _LOGGING_CONFIG, {})
        return {**describe(self, *args, **kwargs), "LoggingConfig": {**defaults, **given}}

    def update_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "LoggingConfig" in config_updates:
            setattr(self, _LOGGING_CONFIG, config_updates["LoggingConfig"] or {})
        return update(self, config_updates)

    replacements.attribute(LambdaFunction, "__init__", init)
    replacements.attribute(LambdaFunction, "get_configuration", get_configuration)
    replacements.attribute(LambdaFunction, "update_configuration", update_configuration)


FIXES = (
    Fix(
        "lambda_keeps_the_logging_config",
        moto="CreateFunction and UpdateFunctionConfiguration drop LoggingConfig; GetFunction returns none",
        aws="the LoggingConfig given, with Lambda's defaults (Text, /aws/lambda/<name>) for what was not",
        canary="tests/test_moto_canaries.py",
        install=_keep_logging_config,
    ),
)
