"""Specification of retrain.local.template: reading a SAM template and resolving intrinsics.

The local cloud has no second copy of the wiring: it reads template.yaml, so the
short tags, ``Globals`` and the intrinsic functions it uses must resolve exactly
as CloudFormation/SAM would resolve them.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from retrain.local.template import (
    Resolver,
    TemplateError,
    function_properties,
    load_template,
    parameter_defaults,
    substitute_definition,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def load_text(tmp_path: Path, body: str) -> dict[str, Any]:
    """Load a template from YAML text (dedented)."""
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body))
    return load_template(path)


def load_value(tmp_path: Path, yaml_value: str) -> Any:
    """The parsed value of ``Value:`` in a one-resource template."""
    template = load_text(
        tmp_path,
        f"""\
        Resources:
          Bucket:
            Type: AWS::S3::Bucket
            Properties:
              Value: {yaml_value}
        """,
    )
    return template["Resources"]["Bucket"]["Properties"]["Value"]


@pytest.fixture
def resolver() -> Resolver:
    return Resolver(
        parameters={"ModelName": "churn", "Threshold": 0.8},
        pseudo={"AWS::StackName": "retrain-dev", "AWS::Region": "us-east-1"},
        refs={"DataBucket": "retrain-dev-databucket-abc", "Fn": "retrain-dev-fn"},
        attributes={
            ("DataBucket", "Arn"): "arn:aws:s3:::retrain-dev-databucket-abc",
            ("Fn", "Arn"): "arn:aws:lambda:us-east-1:123456789012:function:retrain-dev-fn",
        },
    )


# short tags ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("!Ref ModelName", {"Ref": "ModelName"}),
        ("!GetAtt DataBucket.Arn", {"Fn::GetAtt": ["DataBucket", "Arn"]}),
        ("!GetAtt [DataBucket, Arn]", {"Fn::GetAtt": ["DataBucket", "Arn"]}),
        ("!GetAtt Table.StreamSpecification.StreamArn", {"Fn::GetAtt": ["Table", "StreamSpecification.StreamArn"]}),
        ('!Sub "${DataBucket.Arn}/*"', {"Fn::Sub": "${DataBucket.Arn}/*"}),
        ("!Sub ['${A}-x', {A: !Ref ModelName}]", {"Fn::Sub": ["${A}-x", {"A": {"Ref": "ModelName"}}]}),
        ("!Join ['-', [a, !Ref ModelName]]", {"Fn::Join": ["-", ["a", {"Ref": "ModelName"}]]}),
        ("!Select [0, !Split [',', 'a,b']]", {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}),
        ("!If [IsProd, a, b]", {"Fn::If": ["IsProd", "a", "b"]}),
        ("!Base64 text", {"Fn::Base64": "text"}),
    ],
)
def test_short_tag_becomes_its_long_form(tmp_path: Path, yaml_value: str, expected: Any) -> None:
    assert load_value(tmp_path, yaml_value) == expected


def test_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no Resources"):
        load_text(tmp_path, "Parameters: {}\n")


def test_unknown_tag_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(yaml.YAMLError, match="!Bogus"):
        load_value(tmp_path, "!Bogus x")


# Resolver ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ModelName", "churn"),
        ("Threshold", 0.8),
        ("AWS::StackName", "retrain-dev"),
        ("DataBucket", "retrain-dev-databucket-abc"),
    ],
)
def test_ref_resolves_parameters_pseudo_parameters_and_resources(resolver: Resolver, name: str, expected: Any) -> None:
    assert resolver.resolve({"Ref": name}) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param({"Fn::GetAtt": ["Fn", "Arn"]}, id="list form"),
        pytest.param({"Fn::GetAtt": "Fn.Arn"}, id="scalar form"),
    ],
)
def test_get_att_resolves_an_attribute(resolver: Resolver, value: dict[str, Any]) -> None:
    assert resolver.resolve(value) == "arn:aws:lambda:us-east-1:123456789012:function:retrain-dev-fn"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model-${ModelName}", "model-churn"),
        ("${DataBucket.Arn}/*", "arn:aws:s3:::retrain-dev-databucket-abc/*"),
        ("${AWS::StackName}-${ModelName}-drift", "retrain-dev-churn-drift"),
        ("${DataBucket}", "retrain-dev-databucket-abc"),
        ("${!Literal}", "${Literal}"),
        ("no placeholders", "no placeholders"),
        ('{"trigger": "schedule", "model": "${ModelName}"}', '{"trigger": "schedule", "model": "churn"}'),
    ],
)
def test_sub_fills_each_placeholder(resolver: Resolver, text: str, expected: str) -> None:
    assert resolver.resolve({"Fn::Sub": text}) == expected


def test_sub_with_variables_prefers_them_and_resolves_them(resolver: Resolver) -> None:
    value: dict[str, Any] = {
        "Fn::Sub": ["${Name}/${ModelName}/${Arn}", {"Name": {"Ref": "AWS::StackName"}, "ModelName": "other"}]
    }
    value["Fn::Sub"][1]["Arn"] = {"Fn::GetAtt": ["Fn", "Arn"]}

    resolved = resolver.resolve(value)

    assert resolved == "retrain-dev/other/arn:aws:lambda:us-east-1:123456789012:function:retrain-dev-fn"


def test_join_concatenates_resolved_items(resolver: Resolver) -> None:
    value = {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, {"Ref": "ModelName"}, "x"]]}

    assert resolver.resolve(value) == "retrain-dev-churn-x"


def test_split_splits_resolved_text(resolver: Resolver) -> None:
    assert resolver.resolve({"Fn::Split": ["-", {"Ref": "AWS::StackName"}]}) == ["retrain", "dev"]


@pytest.mark.parametrize(("index", "expected"), [(0, "a"), (2, "c"), ("1", "b")])
def test_select_picks_by_index(resolver: Resolver, index: Any, expected: str) -> None:
    assert resolver.resolve({"Fn::Select": [index, {"Fn::Split": [",", "a,b,c"]}]}) == expected


def test_resolve_walks_nested_structures(resolver: Resolver) -> None:
    value = {
        "Bucket": {"Ref": "DataBucket"},
        "Resource": [{"Fn::GetAtt": ["DataBucket", "Arn"]}, {"Fn::Sub": "${DataBucket.Arn}/*"}],
        "Plain": 1,
    }

    assert resolver.resolve(value) == {
        "Bucket": "retrain-dev-databucket-abc",
        "Resource": ["arn:aws:s3:::retrain-dev-databucket-abc", "arn:aws:s3:::retrain-dev-databucket-abc/*"],
        "Plain": 1,
    }


def test_resolve_leaves_a_single_key_plain_mapping_alone(resolver: Resolver) -> None:
    assert resolver.resolve({"Status": "Enabled"}) == {"Status": "Enabled"}


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::ImportValue": "shared-bucket"},
        {"Fn::GetAZs": ""},
    ],
)
def test_unsupported_function_is_an_error_naming_it(resolver: Resolver, value: dict[str, Any]) -> None:
    (name,) = value

    with pytest.raises(TemplateError, match=f"{name} is not supported"):
        resolver.resolve(value)


def _with_conditions() -> Resolver:
    return Resolver(
        parameters={"Image": "", "Stage": "prod"},
        pseudo={"AWS::Region": "us-west-2"},
        mappings={"Registry": {"us-west-2": {"Account": "246618743249"}}},
        conditions={
            "HasImage": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Image"}, ""]}]},
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "ProdWithImage": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "HasImage"}]},
        },
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Fn::If": ["HasImage", "given", "default"]}, "default"),
        ({"Fn::If": ["IsProd", {"Ref": "Stage"}, "other"]}, "prod"),
        ({"Fn::If": ["ProdWithImage", "both", "not both"]}, "not both"),
        ({"Fn::FindInMap": ["Registry", {"Ref": "AWS::Region"}, "Account"]}, "246618743249"),
    ],
)
def test_if_and_find_in_map_resolve_against_conditions_and_mappings(value: dict[str, Any], expected: str) -> None:
    assert _with_conditions().resolve(value) == expected


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"Fn::If": ["Unknown", "a", "b"]}, "condition Unknown"),
        ({"Fn::FindInMap": ["Registry", "eu-west-9", "Account"]}, r"\[Registry, eu-west-9, Account\]"),
    ],
)
def test_an_unknown_condition_or_mapping_entry_is_an_error_naming_it(value: dict[str, Any], named: str) -> None:
    with pytest.raises(TemplateError, match=named):
        _with_conditions().resolve(value)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"Ref": "NoSuchThing"}, "!Ref NoSuchThing"),
        ({"Fn::Sub": "x-${NoSuchThing}"}, "!Ref NoSuchThing"),
        ({"Fn::GetAtt": ["Fn", "Name"]}, "!GetAtt Fn.Name"),
        ({"Fn::Sub": "${Ghost.Arn}"}, "!GetAtt Ghost.Arn"),
    ],
)
def test_unknown_reference_is_an_error_naming_it(resolver: Resolver, value: dict[str, Any], named: str) -> None:
    with pytest.raises(TemplateError, match=named):
        resolver.resolve(value)


# Globals -----------------------------------------------------------------------------------------------

GLOBALS_TEMPLATE: dict[str, Any] = {
    "Globals": {
        "Function": {
            "Runtime": "python3.12",
            "Timeout": 300,
            "Layers": [{"Ref": "LibLayer"}],
            "Environment": {"Variables": {"LOG_LEVEL": "INFO", "BUCKET": "global"}},
        }
    },
    "Resources": {
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/fn/",
                "Timeout": 30,
                "Layers": [{"Ref": "ScienceLayer"}],
                "Environment": {"Variables": {"BUCKET": "own", "EXTRA": "1"}},
            },
        },
        "Bare": {"Type": "AWS::Serverless::Function"},
    },
}


def test_globals_lists_are_additive() -> None:
    props = function_properties(GLOBALS_TEMPLATE, "Fn")

    assert props["Layers"] == [{"Ref": "LibLayer"}, {"Ref": "ScienceLayer"}]


def test_globals_maps_are_merged_with_the_function_winning() -> None:
    props = function_properties(GLOBALS_TEMPLATE, "Fn")

    assert props["Environment"] == {"Variables": {"LOG_LEVEL": "INFO", "BUCKET": "own", "EXTRA": "1"}}


def test_function_scalar_overrides_the_global_one() -> None:
    props = function_properties(GLOBALS_TEMPLATE, "Fn")

    assert props["Timeout"] == 30
    assert props["Runtime"] == "python3.12"
    assert props["CodeUri"] == "functions/fn/"


def test_function_without_properties_gets_the_globals() -> None:
    assert function_properties(GLOBALS_TEMPLATE, "Bare") == GLOBALS_TEMPLATE["Globals"]["Function"]


def test_function_properties_do_not_change_the_template() -> None:
    template = copy.deepcopy(GLOBALS_TEMPLATE)

    props = function_properties(template, "Fn")
    props["Layers"].append("x")
    props["Environment"]["Variables"]["NEW"] = "y"

    assert template == GLOBALS_TEMPLATE


def test_template_without_globals_gives_the_function_own_properties() -> None:
    template = {"Resources": {"Fn": {"Type": "AWS::Serverless::Function", "Properties": {"Timeout": 3}}}}

    assert function_properties(template, "Fn") == {"Timeout": 3}


# parameters --------------------------------------------------------------------------------------------

PARAMETERS = {
    "Parameters": {
        "ModelName": {"Type": "String", "Default": "churn"},
        "Threshold": {"Type": "Number", "Default": 0.8},
    },
    "Resources": {},
}


def test_parameter_defaults_are_used_without_overrides() -> None:
    assert parameter_defaults(PARAMETERS) == {"ModelName": "churn", "Threshold": 0.8}


def test_parameter_override_replaces_the_default() -> None:
    assert parameter_defaults(PARAMETERS, {"ModelName": "house-prices"}) == {
        "ModelName": "house-prices",
        "Threshold": 0.8,
    }


def test_unknown_parameter_override_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"unknown template parameter.*ModelNam\b"):
        parameter_defaults(PARAMETERS, {"ModelNam": "x"})


NO_DEFAULT = {"Parameters": {"Env": {"Type": "String"}}, "Resources": {}}


def test_parameter_without_default_or_override_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match="parameter Env has no default"):
        parameter_defaults(NO_DEFAULT)


def test_parameter_without_default_takes_its_override() -> None:
    assert parameter_defaults(NO_DEFAULT, {"Env": "dev"}) == {"Env": "dev"}


def test_template_without_parameters_has_none() -> None:
    assert parameter_defaults({"Resources": {}}) == {}


# DefinitionSubstitutions -------------------------------------------------------------------------------


def test_substitute_definition_fills_every_placeholder() -> None:
    definition = '{"Resource": "${FnArn}", "TableName": "${Table}", "Other": "${FnArn}"}'

    rendered = substitute_definition(definition, {"FnArn": "arn:fn", "Table": "registry"})

    assert rendered == '{"Resource": "arn:fn", "TableName": "registry", "Other": "arn:fn"}'


def test_substitute_definition_leaves_jsonpath_alone() -> None:
    definition = '{"run.$": "$.run", "execution.$": "$$.Execution.Name"}'

    assert substitute_definition(definition, {}) == definition


def test_substitute_definition_fails_on_a_missing_entry_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"\$\{Missing\} has no DefinitionSubstitutions entry"):
        substitute_definition('{"Resource": "${Missing}"}', {"FnArn": "arn:fn"})


# the real template -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def test_real_template_loads(real_template: dict[str, Any]) -> None:
    assert real_template["Resources"]
    assert "Function" in real_template["Globals"]


def test_every_real_resource_type_is_created_by_the_local_cloud(real_template: dict[str, Any]) -> None:
    from retrain.local.cloud import SUPPORTED_TYPES

    unsupported = {
        name: resource["Type"]
        for name, resource in real_template["Resources"].items()
        if resource["Type"] not in SUPPORTED_TYPES
    }

    assert unsupported == {}


def test_real_template_parameters_all_have_defaults(real_template: dict[str, Any]) -> None:
    values = parameter_defaults(real_template)

    assert set(values) == set(real_template["Parameters"])


# the real template's deployment safeguards (what checkov and cfn-lint -c I ask for) --------------------

ACCESS_LOG_BUCKET = "AccessLogBucket"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def _policy_statements(template: dict[str, Any], bucket: str) -> list[dict[str, Any]]:
    """The statements of the bucket policies attached to ``bucket``."""
    return [
        statement
        for policy in _of_type(template, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_every_other_bucket_logs_to_the_access_log_bucket_under_its_own_prefix(real_template: dict[str, Any]) -> None:
    buckets = _of_type(real_template, "AWS::S3::Bucket")
    sources = {name: b for name, b in buckets.items() if name != ACCESS_LOG_BUCKET}

    logging = {name: b["Properties"].get("LoggingConfiguration") or {} for name, b in sources.items()}

    assert ACCESS_LOG_BUCKET in buckets
    assert {"DataBucket", "ArtifactBucket"} <= set(sources)
    assert {name: c.get("DestinationBucketName") for name, c in logging.items()} == {
        name: {"Ref": ACCESS_LOG_BUCKET} for name in sources
    }
    prefixes = [c["LogFilePrefix"] for c in logging.values()]
    assert all(p.endswith("/") for p in prefixes)
    assert len(set(prefixes)) == len(prefixes)


def test_log_delivery_may_write_each_source_bucket_prefix_only_for_that_bucket(real_template: dict[str, Any]) -> None:
    sources = {
        name: b["Properties"]["LoggingConfiguration"]["LogFilePrefix"]
        for name, b in _of_type(real_template, "AWS::S3::Bucket").items()
        if "LoggingConfiguration" in b["Properties"]
    }
    grants = [
        s
        for s in _policy_statements(real_template, ACCESS_LOG_BUCKET)
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    ]

    granted = {s["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::GetAtt"][0]: s for s in grants}

    assert set(granted) == set(sources)
    for name, prefix in sources.items():
        assert granted[name]["Action"] == "s3:PutObject"
        assert granted[name]["Resource"] == {"Fn::Sub": f"${{{ACCESS_LOG_BUCKET}.Arn}}/{prefix}*"}
        assert granted[name]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


@pytest.mark.parametrize("bucket", ["DataBucket", "ArtifactBucket", ACCESS_LOG_BUCKET])
def test_every_bucket_is_encrypted_versioned_private_and_tls_only(real_template: dict[str, Any], bucket: str) -> None:
    props = real_template["Resources"][bucket]["Properties"]
    tls_only = [
        s
        for s in _policy_statements(real_template, bucket)
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]

    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert len(tls_only) == 1


def test_access_logs_expire_after_the_retention_parameter(real_template: dict[str, Any]) -> None:
    rules = real_template["Resources"][ACCESS_LOG_BUCKET]["Properties"]["LifecycleConfiguration"]["Rules"]

    expiring = [r for r in rules if r["Status"] == "Enabled" and "ExpirationInDays" in r]

    assert [r["ExpirationInDays"] for r in expiring] == [{"Ref": "AccessLogRetentionDays"}]
    assert "NoncurrentVersionExpiration" in expiring[0]


def test_the_registry_table_is_retained_when_the_stack_is_deleted_or_it_is_replaced(
    real_template: dict[str, Any],
) -> None:
    table = real_template["Resources"]["RegistryTable"]

    assert table.get("DeletionPolicy") == "Retain"
    assert table.get("UpdateReplacePolicy") == "Retain"


def test_every_checkov_skip_names_a_check_and_says_why(real_template: dict[str, Any]) -> None:
    skips = [
        (name, skip)
        for name, resource in real_template["Resources"].items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
    ]

    assert skips
    for name, skip in skips:
        assert str(skip.get("id", "")).startswith("CKV_"), name
        assert len(str(skip.get("comment", "")).strip()) >= 20, f"{name}: {skip.get('id')} needs a reason"


def test_no_checkov_skip_hides_access_logging_of_a_data_bucket(real_template: dict[str, Any]) -> None:
    skipped = {
        name
        for name, resource in _of_type(real_template, "AWS::S3::Bucket").items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", [])
        if skip["id"] == "CKV_AWS_18"
    }

    assert skipped == {ACCESS_LOG_BUCKET}
