"""Step Functions in the emulator answers as AWS does where moto does not (harness/aws_answers.py)."""

from __future__ import annotations

from harness import aws_answers
from harness.emulator import Emulator


def test_answering_a_token_a_second_time_is_task_timed_out(emulator: Emulator) -> None:
    assert aws_answers.answers_to_a_spent_token(emulator.client) == ("TaskTimedOut", "TaskTimedOut")


def test_send_task_failure_with_the_token_of_a_timed_out_task_is_task_timed_out(emulator: Emulator) -> None:
    assert aws_answers.answer_to_a_timed_out_token(emulator.client) == "TaskTimedOut"


def test_output_that_is_not_json_is_invalid_output_and_the_task_still_waits(emulator: Emulator) -> None:
    assert aws_answers.answers_to_output_that_is_not_json(emulator.client) == ("InvalidOutput", None)


def test_an_empty_task_token_is_a_validation_exception(emulator: Emulator) -> None:
    assert aws_answers.answer_to_an_empty_token(emulator.client) == "ValidationException"


def test_an_execution_name_with_a_space_is_invalid_name(emulator: Emulator) -> None:
    assert aws_answers.answer_to_a_name_with_spaces(emulator.client) == "InvalidName"


def test_execution_input_that_is_not_json_is_invalid_execution_input(emulator: Emulator) -> None:
    assert aws_answers.answer_to_input_that_is_not_json(emulator.client) == "InvalidExecutionInput"


def test_describe_execution_says_the_input_is_included(emulator: Emulator) -> None:
    assert aws_answers.described_input_details(emulator.client) == {"included": True}
