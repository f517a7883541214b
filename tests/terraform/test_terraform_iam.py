"""Every IAM policy is a policy document scoped to the stack, with "*" only where AWS requires it."""

import re

import pytest
from hcl_checks import REPO_ROOT, TERRAFORM_DIR, Block, load_module, unquote

# Actions without resource-level permissions, for which AWS requires Resource "*"
# (Service Authorization Reference: no resource type listed for the action).
ACTIONS_REQUIRING_ANY_RESOURCE = {
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    "states:SendTaskFailure",
    "states:SendTaskSuccess",
}
POLICY_ARGUMENTS = {"policy", "assume_role_policy"}
POLICY_DOCUMENT_JSON = re.compile(r"^\$\{(data\.aws_iam_policy_document\.\w+)\.json\}$")


def policy_documents() -> list[Block]:
    """Every data "aws_iam_policy_document" block of terraform/."""
    data = load_module(TERRAFORM_DIR).data
    return [block for (type_name, _), block in sorted(data.items()) if type_name == "aws_iam_policy_document"]


def statements() -> list[tuple[str, dict]]:
    """Every statement of every policy document, with the document's address."""
    return [
        (document.address, statement)
        for document in policy_documents()
        for statement in document.body.get("statement", [])
    ]


def statement_ids() -> list[str]:
    """Readable test ids: the document address and the statement sid."""
    return [f"{document}:{unquote(statement.get('sid', 'assume'))}" for document, statement in statements()]


def literals(values: list[str]) -> list[str]:
    """The values of a list argument with string-literal quotes removed."""
    return [unquote(value) for value in values]


def test_there_are_policy_documents_to_check() -> None:
    assert len(statements()) >= 10


@pytest.mark.parametrize(("document", "statement"), statements(), ids=statement_ids())
def test_no_statement_allows_a_wildcard_action(document: str, statement: dict) -> None:
    assert "not_actions" not in statement, f"{document}: not_actions allows everything else"
    actions = literals(statement["actions"])
    assert all(action != "*" and not action.endswith(":*") for action in actions), f"{document}: {actions}"


def key_policies() -> set[str]:
    """The policy documents that are a KMS key's policy, where resource "*" means that key and no other."""
    keys = [
        block for (type_name, _), block in load_module(TERRAFORM_DIR).resources.items() if type_name == "aws_kms_key"
    ]
    return {POLICY_DOCUMENT_JSON.match(key.body["policy"])[1] for key in keys}


@pytest.mark.parametrize(("document", "statement"), statements(), ids=statement_ids())
def test_any_resource_is_only_granted_to_actions_aws_allows_no_narrower(document: str, statement: dict) -> None:
    resources = literals(statement.get("resources", []))
    assert "not_resources" not in statement
    if "*" in resources and document not in key_policies():
        assert resources == ["*"], f"{document}: mix of '*' and specific resources"
        broad = set(literals(statement["actions"])) - ACTIONS_REQUIRING_ANY_RESOURCE
        assert not broad, f"{document}: {sorted(broad)} support resource-level permissions; name the resources"


def test_every_policy_argument_is_a_policy_document() -> None:
    module = load_module(TERRAFORM_DIR)
    inline = [
        f"{block.file} {block.address}.{key}"
        for block in module.resources.values()
        for key, value in block.body.items()
        if key in POLICY_ARGUMENTS and not POLICY_DOCUMENT_JSON.match(value)
    ]
    assert not inline, f"policies not built from data.aws_iam_policy_document: {inline}"


# IAM authorises these calls by the actions of their parts: a batch of deletes by DeleteMessage, and a
# transaction by the parts it is made of (controller/storage/dynamodb/ writes these, and no Delete alone).
AUTHORISED_AS = {
    "sqs:DeleteMessageBatch": {"sqs:DeleteMessage"},
    "dynamodb:TransactWriteItems": {
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    },
}
# DynamoDB decrypts the approvals table with its customer managed key on the caller's behalf.
IMPLIED = {"dynamodb:GetItem": {"kms:Decrypt"}}


def controller_aws_actions() -> set[str]:
    """The IAM actions behind every AWS call in controller/ (clients are named sqs, sfn and dynamodb there)."""
    service = {"sqs": "sqs", "sfn": "states", "dynamodb": "dynamodb"}
    calls = set()
    for source in (REPO_ROOT / "controller").rglob("*.py"):
        for client, method in re.findall(r"\b(sqs|sfn|dynamodb)\.([a-z_]+)\(", source.read_text(encoding="utf-8")):
            action = f"{service[client]}:{''.join(part.title() for part in method.split('_'))}"
            calls |= AUTHORISED_AS.get(action, {action}) | IMPLIED.get(action, set())
    return calls


def test_the_controller_policy_grants_exactly_what_the_controller_calls() -> None:
    controller = load_module(TERRAFORM_DIR).data[("aws_iam_policy_document", "controller")]
    actions = {action for statement in controller.body["statement"] for action in literals(statement["actions"])}
    assert actions == controller_aws_actions()
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "states:SendTaskSuccess", "dynamodb:Query"} <= actions
    assert "dynamodb:Scan" not in actions


def test_the_controller_may_query_the_approvals_tables_indexes_by_name_and_nothing_else_there() -> None:
    controller = load_module(TERRAFORM_DIR).data[("aws_iam_policy_document", "controller")]
    (indexes,) = [statement for statement in controller.body["statement"] if "/index/" in str(statement["resources"])]
    assert literals(indexes["actions"]) == ["dynamodb:Query"]
    assert indexes["resources"] == (
        '${[for name in keys(local.approvals_table.indexes) : "${aws_dynamodb_table.this.arn}/index/${name}"]}'
    )


def test_the_approvals_key_lets_the_controller_decrypt_only_through_dynamodb() -> None:
    key_policy = load_module(TERRAFORM_DIR).data[("aws_iam_policy_document", "approvals_key")]
    ((name, dynamic),) = key_policy.body["dynamic"][0].items()
    (controller,) = dynamic["content"]
    assert unquote(name) == "statement"
    assert literals(controller["actions"]) == ["kms:Decrypt"]
    (via,) = controller["condition"]
    assert (unquote(via["variable"]), via["values"]) == ("kms:ViaService", ['"dynamodb.${local.region}.amazonaws.com"'])


def test_only_the_state_machine_role_may_send_to_the_approval_queue() -> None:
    queue_policy = load_module(TERRAFORM_DIR).data[("aws_iam_policy_document", "approval_queue")]
    (statement,) = queue_policy.body["statement"]
    assert literals(statement["actions"]) == ["sqs:SendMessage"]
    (principals,) = statement["principals"]
    assert principals["identifiers"] == ["${aws_iam_role.state_machine.arn}"]
