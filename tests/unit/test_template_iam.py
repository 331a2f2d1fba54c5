"""Least privilege: every grant in template.yaml is one the code needs, on a named resource.

Each function's and the state machine's ``Policies`` are expanded into
(action, resource) grants and compared with ``EXPECTED`` below, which was traced
from the calls each handler makes (``functions/<step>/app.py`` into
``src/retrain``: ``aws.py`` for S3/SSM/EventBridge, ``registry.py`` for
DynamoDB) and from the state machine's service integrations. A grant that is
not in the table (a new action, a wider key prefix, a whole bucket, ``*``),
a SAM CRUD/read policy template, or a condition that differs from
``CONDITIONS`` fails with the principal, action and resource named. A grant the
table lists but the template lacks fails too, so the table is the record.

The SageMaker training jobs' role (``SageMakerTrainingRole``, an ``AWS::IAM::Role``) is checked the
same way against ``TRAINING_ROLE_EXPECTED`` at the end.

What SAM adds by itself is not in template.yaml and not checked here: the
``AWSLambdaBasicExecutionRole`` managed policy (each function's own log group)
and ``AWSXrayWriteOnlyAccess`` (``Tracing: Active`` / ``Tracing: Enabled``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from retrain.local.template import Resolver, function_properties, load_template, parameter_defaults, pseudo_parameters

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# How the checker renders resources: each template resource's Ref is its logical id.
STACK, REGION, ACCOUNT = "STACK", "REGION", "ACCOUNT"
DATA = "arn:aws:s3:::DataBucket"
ARTIFACTS = "arn:aws:s3:::ArtifactBucket"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/RegistryTable"
CHAMPION_PARAMETERS = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{STACK}/champion/*"
DEFAULT_BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
TRAINING_JOBS = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{STACK}-*"
TRAINING_ROLE = "arn:AWS::IAM::Role:SageMakerTrainingRole"
SAGEMAKER_JOB_RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"


def _function(name: str) -> str:
    """What SAM's LambdaInvokePolicy grants: the function and its versions/aliases (``function:<name>*``)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}*"


def _grants(actions: list[str], *resources: str) -> set[tuple[str, str]]:
    return {(action, resource) for action in actions for resource in resources}


#: SAM policy templates that are exactly right for what they grant here (expanded as SAM's
#: policy_templates.json defines them). Every other template (DynamoDBCrudPolicy, S3CrudPolicy,
#: S3ReadPolicy, DynamoDBReadPolicy, ...) grants more than a function needs and fails.
SAM_TEMPLATES: dict[str, Any] = {
    "LambdaInvokePolicy": lambda p: {
        "Action": ["lambda:InvokeFunction"],
        "Resource": {
            "Fn::Sub": [
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${functionName}*",
                {"functionName": p["FunctionName"]},
            ]
        },
    },
    "EventBridgePutEventsPolicy": lambda p: {
        "Action": "events:PutEvents",
        "Resource": {
            "Fn::Sub": [
                "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${eventBusName}",
                {"eventBusName": p["EventBusName"]},
            ]
        },
    },
}

#: Actions AWS authorizes on no resource ARN (Step Functions' log delivery to CloudWatch Logs).
NO_RESOURCE_LEVEL = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}

# s3:ListBucket on a bucket is granted where the code heads, lists, or relies on a missing key
# answering 404 (DataNotFound) rather than 403: S3 answers 404 only to a caller with ListBucket.
# HeadObject is authorized as s3:GetObject. TransactWriteItems is authorized per item as
# PutItem / UpdateItem. The state machine's DynamoDB writes are its ASL integrations.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "NormalizeFunction": {
        ("s3:GetObject", f"{DATA}/configs/*"),
        ("s3:ListBucket", DATA),
        ("dynamodb:GetItem", TABLE),
    },
    "MetricCheckFunction": {
        *_grants(["s3:GetObject"], *(f"{DATA}/{p}/*" for p in ("configs", "inference", "labels", "flags"))),
        ("s3:ListBucket", DATA),
    },
    "DriftCheckFunction": {
        *_grants(["s3:GetObject"], f"{DATA}/configs/*", f"{DATA}/inference/*"),
        ("s3:ListBucket", DATA),
        *_grants(["s3:GetObject"], f"{ARTIFACTS}/snapshots/*", f"{ARTIFACTS}/models/*"),
        ("s3:ListBucket", ARTIFACTS),
        *_grants(["dynamodb:GetItem", "dynamodb:Query"], TABLE),
        ("s3:PutObject", f"{ARTIFACTS}/reports/*"),
        ("s3:PutObject", f"{ARTIFACTS}/runs/*/drift/batches.json"),
        ("s3:GetObject", f"{ARTIFACTS}/runs/*/drift/*"),
    },
    "DriftProfileFunction": {
        *_grants(["s3:GetObject"], f"{DATA}/configs/*", f"{DATA}/inference/*"),
        ("s3:ListBucket", DATA),
        *_grants(["s3:PutObject"], f"{ARTIFACTS}/runs/*/drift/partials/*", f"{ARTIFACTS}/runs/*/drift/failures/*"),
    },
    "SnapshotFunction": {
        *_grants(["s3:GetObject"], *(f"{DATA}/{p}/*" for p in ("configs", "inference", "labels", "reference"))),
        ("s3:ListBucket", DATA),
        *_grants(["s3:PutObject", "s3:GetObject"], f"{ARTIFACTS}/snapshots/*"),
        ("s3:ListBucket", ARTIFACTS),
    },
    "TrainFunction": {
        ("s3:GetObject", f"{DATA}/configs/*"),
        ("s3:GetObject", f"{ARTIFACTS}/snapshots/*"),
        *_grants(["s3:PutObject", "s3:PutObjectTagging"], f"{ARTIFACTS}/models/*"),
        *_grants(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"], TABLE),
        # The SageMaker engine: PrepareTrainingJob stores the job's source dir (put_new: a conditional put)
        # and config; RegisterTrainingJob reads the config and the job's model.tar.gz.
        *_grants(["s3:PutObject"], f"{ARTIFACTS}/code/*", f"{ARTIFACTS}/training-jobs/*/input/*"),
        ("s3:GetObject", f"{ARTIFACTS}/training-jobs/*"),
    },
    "ValidateFunction": {
        *_grants(["s3:GetObject"], f"{DATA}/configs/*", f"{DATA}/inference/*"),
        ("s3:ListBucket", DATA),
        *_grants(["s3:GetObject"], f"{ARTIFACTS}/snapshots/*", f"{ARTIFACTS}/models/*"),
        *_grants(["dynamodb:GetItem", "dynamodb:UpdateItem"], TABLE),
    },
    "PromoteFunction": {
        *_grants(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"], TABLE),
        *_grants(["ssm:GetParameter", "ssm:PutParameter"], CHAMPION_PARAMETERS),
    },
    "ApprovalFunction": {
        ("dynamodb:PutItem", TABLE),
        ("events:PutEvents", DEFAULT_BUS),
    },
    "ReconcileFunction": {
        *_grants(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"], TABLE),
        *_grants(["ssm:GetParameter", "ssm:PutParameter"], CHAMPION_PARAMETERS),
        *_grants(["s3:PutObjectTagging", "s3:GetObjectTagging"], f"{ARTIFACTS}/models/*"),
        ("s3:ListBucket", ARTIFACTS),
    },
    "ReportFunction": {
        *_grants(["s3:GetObject", "s3:PutObject"], f"{ARTIFACTS}/reports/*"),
        ("s3:ListBucket", ARTIFACTS),
        *_grants(["dynamodb:GetItem", "dynamodb:Query"], TABLE),
    },
    "RetrainingStateMachine": {
        *(
            ("lambda:InvokeFunction", _function(name))
            for name in (
                "NormalizeFunction",
                "MetricCheckFunction",
                "DriftCheckFunction",
                "DriftProfileFunction",
                "SnapshotFunction",
                "TrainFunction",
                "ValidateFunction",
                "PromoteFunction",
                "ApprovalFunction",
                "ReconcileFunction",
                "ReportFunction",
            )
        ),
        *_grants(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], TABLE),
        ("events:PutEvents", DEFAULT_BUS),
        *_grants(sorted(NO_RESOURCE_LEVEL), "*"),
        # ProfileWindow: the Distributed Map's child executions, its ItemReader and ResultWriter.
        ("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:RetrainingStateMachine-*"),
        *_grants(
            ["states:DescribeExecution", "states:StopExecution"],
            f"arn:aws:states:{REGION}:{ACCOUNT}:execution:RetrainingStateMachine-*",
        ),
        ("s3:GetObject", f"{ARTIFACTS}/runs/*/drift/batches.json"),
        *_grants(
            ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
            f"{ARTIFACTS}/runs/*/drift/map/*",
        ),
        # TrainingJob: sagemaker:createTrainingJob.sync on this stack's jobs (Tags: AddTags), run as the
        # training role, watched through the EventBridge rule Step Functions manages for .sync.
        *_grants(
            [
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:AddTags",
            ],
            TRAINING_JOBS,
        ),
        ("iam:PassRole", TRAINING_ROLE),
        *_grants(["events:PutTargets", "events:PutRule", "events:DescribeRule"], SAGEMAKER_JOB_RULE),
    },
}

#: The only conditioned grants. Approval writes APPROVAL#<execution> items only: dynamodb:LeadingKeys
#: is the partition key of the item a request touches, used with ForAllValues (DynamoDB Developer
#: Guide, "Using IAM policy conditions for fine-grained access control").
CONDITIONS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("ApprovalFunction", "dynamodb:PutItem", TABLE): {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APPROVAL#*"]},
    },
    ("RetrainingStateMachine", "iam:PassRole", TRAINING_ROLE): {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"},
    },
}

PRINCIPAL_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


# ------------------------------------------------------------------ the checker


def _resolver(template: dict[str, Any]) -> Resolver:
    resources = template["Resources"]

    def arn(name: str) -> str:
        kind = resources[name]["Type"]
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        if kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        return f"arn:{kind}:{name}"

    return Resolver(
        parameters=parameter_defaults(template),
        pseudo=pseudo_parameters(STACK, REGION, ACCOUNT),
        refs={name: name for name in resources},
        attributes={(name, "Arn"): arn(name) for name in resources},
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principals(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's (``Globals`` merged) and the state machine's properties."""
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            found[name] = function_properties(template, name)
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            found[name] = resource.get("Properties", {})
    return found


def statements(name: str, props: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The principal's policy statements (SAM templates expanded) and the problems found on the way."""
    problems: list[str] = []
    found: list[dict[str, Any]] = []
    if "Role" in props:
        problems.append(f"{name}: brings its own Role, whose grants this test cannot see")
    for entry in _as_list(props.get("Policies") or []):
        if not isinstance(entry, dict):
            problems.append(f"{name}: managed policy {entry!r} (name the actions and resources instead)")
            continue
        if "Statement" in entry:
            found += _as_list(entry["Statement"])
            continue
        for template_name, params in entry.items():
            if template_name in SAM_TEMPLATES:
                found.append({"Effect": "Allow", **SAM_TEMPLATES[template_name](params)})
            else:
                problems.append(
                    f"{name}: SAM policy template {template_name} {params!r} grants more than the code needs "
                    "(use explicit statements on named resources and key prefixes)"
                )
    return found, problems


def grants(
    template: dict[str, Any],
) -> tuple[dict[str, list[tuple[str, str, dict[str, Any] | None]]], list[str]]:
    """Every principal's (action, resource, condition) grants, resolved, and the problems found."""
    resolver = _resolver(template)
    problems: list[str] = []
    result: dict[str, list[tuple[str, str, dict[str, Any] | None]]] = {}
    for name, props in principals(template).items():
        found, trouble = statements(name, props)
        problems += trouble
        result[name] = []
        for statement in found:
            if {"NotAction", "NotResource", "NotPrincipal"} & set(statement):
                problems.append(f"{name}: statement {statement.get('Sid', '?')} uses Not*, which grants by exclusion")
                continue
            if statement.get("Effect") != "Allow":
                continue
            condition = statement.get("Condition")
            for action in _as_list(statement.get("Action")):
                for resource in _as_list(statement.get("Resource")):
                    result[name].append((str(action), str(resolver.resolve(resource)), condition))
    return result, problems


def policy_problems(
    template: dict[str, Any],
    expected: dict[str, set[tuple[str, str]]],
    conditions: dict[tuple[str, str, str], dict[str, Any]],
) -> list[str]:
    """Every way the template's grants differ from ``expected`` and ``conditions`` (empty: they agree)."""
    granted, problems = grants(template)
    for name in sorted(set(granted) - set(expected)):
        problems.append(f"{name}: not in the expected table (add its grants to EXPECTED)")
    for name in sorted(set(expected) - set(granted)):
        problems.append(f"{name}: in the expected table but not a function or state machine of the template")
    for name, found in granted.items():
        wanted = expected.get(name, set())
        for action, resource, condition in found:
            if resource == "*" and action not in NO_RESOURCE_LEVEL:
                problems.append(f"{name}: {action} on '*', where the resource has a name")
            elif (action, resource) not in wanted:
                problems.append(f"{name}: {action} on {resource} is not in the expected table")
            if condition != conditions.get((name, action, resource)):
                problems.append(
                    f"{name}: {action} on {resource} has condition {json.dumps(condition)}, "
                    f"expected {json.dumps(conditions.get((name, action, resource)))}"
                )
        have = {(action, resource) for action, resource, _ in found}
        for action, resource in sorted(wanted - have):
            problems.append(f"{name}: {action} on {resource} is expected but not granted")
    return problems


# ------------------------------------------------------------------ the real template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_every_function_and_the_state_machine_have_an_expected_table(template):
    assert set(principals(template)) == set(EXPECTED)


@pytest.mark.parametrize("principal", sorted(EXPECTED))
def test_each_principal_is_granted_exactly_its_expected_table(template, principal):
    problems = policy_problems(template, EXPECTED, CONDITIONS)

    assert [p for p in problems if p.startswith(f"{principal}:")] == []


def test_no_principal_uses_a_sam_crud_or_read_policy_template(template):
    used = {
        (name, template_name)
        for name, props in principals(template).items()
        for entry in _as_list(props.get("Policies") or [])
        if isinstance(entry, dict)
        for template_name in entry
        if template_name != "Statement"
    }

    assert {t for _, t in used} <= set(SAM_TEMPLATES), sorted(used)


def test_approval_may_write_only_approval_items(template):
    granted, _ = grants(template)

    writes = [(a, r, c) for a, r, c in granted["ApprovalFunction"] if a.startswith("dynamodb:")]

    assert writes == [
        ("dynamodb:PutItem", TABLE, {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APPROVAL#*"]}})
    ]


def test_the_state_machine_invokes_the_reconcile_function(template):
    machine = template["Resources"]["RetrainingStateMachine"]["Properties"]

    assert machine["DefinitionSubstitutions"]["ReconcileFunctionArn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}


# ------------------------------------------------------------------ failed artifacts expire


def test_failed_candidate_artifacts_expire_after_the_retention_parameter(template):
    rules = template["Resources"]["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    parameter = template["Parameters"]["FailedArtifactRetentionDays"]

    tagged = [r for r in rules if r.get("TagFilters")]

    assert tagged == [
        {
            "Id": "ExpireFailedCandidateArtifacts",
            "Status": "Enabled",
            "Prefix": "models/",
            "TagFilters": [{"Key": "retrain-status", "Value": "failed"}],
            "ExpirationInDays": {"Ref": "FailedArtifactRetentionDays"},
        }
    ]
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 30, 1)
    assert "failed" in parameter["Description"]


def test_the_expiry_tag_is_what_reconcile_writes(template):
    reconcile = pytest.importorskip("retrain.steps.reconcile")
    rules = template["Resources"]["ArtifactBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]

    (tagged,) = [r for r in rules if r.get("TagFilters")]

    assert {t["Key"]: t["Value"] for t in tagged["TagFilters"]} == reconcile.EXPIRY_TAG


# ------------------------------------------------------------------ the checker catches widening


def _allow(action: str, resource: Any) -> dict[str, Any]:
    return {"Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def _with_policy(template: dict[str, Any], principal: str, policy: Any) -> dict[str, Any]:
    widened = copy.deepcopy(template)
    widened["Resources"][principal]["Properties"]["Policies"].append(policy)
    return widened


@pytest.mark.parametrize(
    ("principal", "policy", "named"),
    [
        (
            "TrainFunction",
            {"DynamoDBCrudPolicy": {"TableName": {"Ref": "RegistryTable"}}},
            "TrainFunction: SAM policy template DynamoDBCrudPolicy",
        ),
        (
            "SnapshotFunction",
            {"S3CrudPolicy": {"BucketName": {"Ref": "ArtifactBucket"}}},
            "SnapshotFunction: SAM policy template S3CrudPolicy",
        ),
        (
            "RetrainingStateMachine",
            _allow("dynamodb:Scan", {"Fn::GetAtt": "RegistryTable.Arn"}),
            f"RetrainingStateMachine: dynamodb:Scan on {TABLE} is not in the expected table",
        ),
        (
            "NormalizeFunction",
            _allow("s3:GetObject", {"Fn::Sub": "${DataBucket.Arn}/*"}),
            f"NormalizeFunction: s3:GetObject on {DATA}/* is not in the expected table",
        ),
        (
            "PromoteFunction",
            _allow("ssm:PutParameter", "*"),
            "PromoteFunction: ssm:PutParameter on '*', where the resource has a name",
        ),
        (
            "ApprovalFunction",
            _allow("dynamodb:PutItem", {"Fn::GetAtt": "RegistryTable.Arn"}),
            f"ApprovalFunction: dynamodb:PutItem on {TABLE} has condition null",
        ),
        ("ValidateFunction", "AmazonS3ReadOnlyAccess", "ValidateFunction: managed policy 'AmazonS3ReadOnlyAccess'"),
    ],
)
def test_a_wider_grant_is_reported_naming_principal_action_and_resource(template, principal, policy, named):
    problems = policy_problems(_with_policy(template, principal, policy), EXPECTED, CONDITIONS)

    assert [p for p in problems if p.startswith(named)], problems


def test_a_grant_the_code_needs_that_is_gone_is_reported(template):
    narrowed = copy.deepcopy(template)
    narrowed["Resources"]["ApprovalFunction"]["Properties"]["Policies"] = [
        p for p in narrowed["Resources"]["ApprovalFunction"]["Properties"]["Policies"] if "Statement" in p
    ]

    problems = policy_problems(narrowed, EXPECTED, CONDITIONS)

    assert problems == [f"ApprovalFunction: events:PutEvents on {DEFAULT_BUS} is expected but not granted"]


# ------------------------------------------------------------------ the SageMaker training role

#: What a training job reads and writes (the snapshot, its source dir and config; its output), the image it
#: pulls, its logs and metrics. Resolved in us-east-1, where the scikit-learn image is in account 683313688378.
TRAINING_ROLE_EXPECTED: set[tuple[str, str]] = {
    *_grants(
        ["s3:GetObject"],
        f"{ARTIFACTS}/snapshots/*",
        f"{ARTIFACTS}/code/*",
        f"{ARTIFACTS}/training-jobs/*/input/*",
    ),
    ("s3:ListBucket", ARTIFACTS),
    ("s3:PutObject", f"{ARTIFACTS}/training-jobs/*/output/*"),
    ("ecr:GetAuthorizationToken", "*"),
    *_grants(
        ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-scikit-learn",
    ),
    *_grants(
        ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/TrainingJobs*",
    ),
    ("cloudwatch:PutMetricData", "*"),
}
TRAINING_ROLE_CONDITIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("s3:ListBucket", ARTIFACTS): {"StringLike": {"s3:prefix": ["snapshots/*", "training-jobs/*"]}},
    ("cloudwatch:PutMetricData", "*"): {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
}


def _training_role_grants(template: dict[str, Any], image: str = "") -> set[tuple[str, str, str]]:
    resources = template["Resources"]
    resolver = Resolver.for_template(
        template, parameter_defaults(template, {"TrainingImage": image}), pseudo_parameters(STACK, "us-east-1", ACCOUNT)
    )
    resolver.refs.update({name: name for name in resources})
    resolver.attributes.update(
        {(name, "Arn"): f"arn:aws:s3:::{name}" for name in resources if resources[name]["Type"] == "AWS::S3::Bucket"}
    )
    props = resolver.resolve(resources["SageMakerTrainingRole"]["Properties"])
    found = set()
    for policy in props["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            assert not {"NotAction", "NotResource"} & set(statement)
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    found.add((action, resource, json.dumps(statement.get("Condition"), sort_keys=True)))
    return found


def test_only_sagemaker_in_this_account_may_assume_the_training_role(template):
    (statement,) = template["Resources"]["SageMakerTrainingRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_training_role_is_granted_exactly_what_a_job_needs(template):
    found = _training_role_grants(template)

    assert {(action, resource) for action, resource, _ in found} == TRAINING_ROLE_EXPECTED
    for action, resource, condition in found:
        assert json.loads(condition) == TRAINING_ROLE_CONDITIONS.get((action, resource)), (action, resource)


def test_a_custom_training_image_may_be_pulled_from_any_repository_of_the_region(template):
    found = _training_role_grants(template, image="111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1")

    assert ("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:*:repository/*") in {(a, r) for a, r, _ in found}
