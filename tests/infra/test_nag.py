"""cdk-nag's AwsSolutions pack passes, and every acknowledged finding says why."""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match

from infra import nag
from tests.infra.conftest import VARIANTS, Synth


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_aws_solutions_pack_has_no_unacknowledged_finding(synth_variant: Callable[[str], Synth], variant: str) -> None:
    synth = synth_variant(variant)
    violations = nag.checks().validate_scope(synth.stack).violations
    assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in violations] == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_no_error_or_warning_annotations(synth_variant: Callable[[str], Synth], variant: str) -> None:
    annotations = Annotations.from_stack(synth_variant(variant).stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []
    assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []


def test_every_acknowledgment_has_a_reason(default: Synth, semantic: Synth) -> None:
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = 0
    for synth in (default, semantic):
        for construct in synth.stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type != key:
                    continue
                for rule, reason in dict(entry.data).items():
                    found += 1
                    # CDK files ids without a plugin prefix as "Annotation::<id>"; cdk-nag reads them so.
                    assert rule.removeprefix("Annotation::").startswith("AwsSolutions-"), rule
                    assert len(str(reason)) >= 40, f"{construct.node.path}: {rule} needs a real reason"
    assert found > 0


def test_the_app_synth_runs_the_pack(default: Synth) -> None:
    """`app.build` registers the pack as a validation plugin: app.synth() fails on any finding."""
    default.app.synth()  # raises ValidationFailed if the plugin reports a violation
    report = (default.outdir / "validation-report.json").read_text()
    assert '"conclusion": "failure"' not in report


def _checkov_skips(synth: Synth) -> dict[str, set[str]]:
    """check id -> logical ids of the resources that skip it (checkov reads Metadata.checkov.skip)."""
    skips: dict[str, set[str]] = {}
    for logical_id, resource in synth.json["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["comment"] == nag.CHECKOV[skip["id"]] and len(skip["comment"]) >= 40
            skips.setdefault(skip["id"], set()).add(logical_id)
    return skips


def test_checkov_findings_are_skipped_only_where_they_do_not_apply(default: Synth, semantic: Synth) -> None:
    kms_findings = {"CKV_AWS_119", "CKV_AWS_149", "CKV_AWS_158", "CKV_AWS_26", "CKV_AWS_173"}
    everywhere = {"CKV_AWS_59", "CKV_AWS_117", "CKV_AWS_116", "CKV_AWS_120"}
    assert set(_checkov_skips(default)) == everywhere | kms_findings  # reservations on: no CKV_AWS_115
    skipped = _checkov_skips(semantic)  # kms on; admin unreserved
    assert set(skipped) == everywhere | {"CKV_AWS_115", "CKV_AWS_18"}  # and the audit bucket's access logs
    assert skipped["CKV_AWS_115"] == {semantic.id_of(semantic.stack.functions.admin)}
    assert len(_checkov_skips(default)["CKV_AWS_119"]) == len(default.stack.data.tables) == 4
    assert len(_checkov_skips(default)["CKV_AWS_158"]) == 3
