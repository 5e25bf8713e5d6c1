"""The k8s tests' access to the tools they need (kustomize, kubernetes-validate, the CRDs, checkov): a missing
tool fails the test with the install instructions alone, never skips it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pytest

from tools.k8s import manifests, policy
from tools.k8s.manifests import MissingPrerequisiteError

P = ParamSpec("P")
R = TypeVar("R")


def fail_when_missing(function: Callable[P, R]) -> Callable[P, R]:
    """`function`, failing the test with the install instructions alone when a tool is missing."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except MissingPrerequisiteError as exc:
            missing = str(exc)
        pytest.fail(missing, pytrace=False)  # outside `except`: no "during handling ..." chain in the report

    return wrapper


render = fail_when_missing(manifests.render)
build = fail_when_missing(manifests.build)
check_builtin_schemas = fail_when_missing(manifests.check_builtin_schemas)
check_custom_resources = fail_when_missing(manifests.check_custom_resources)
crd_schemas = fail_when_missing(manifests.crd_schemas)
render_overlay = fail_when_missing(policy.render_overlay)
checkov_findings = fail_when_missing(policy.findings)
