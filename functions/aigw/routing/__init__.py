"""Choosing deployments, retrying and falling back."""

from aigw.routing.router import Router, Target

__all__ = ["Router", "Target"]
