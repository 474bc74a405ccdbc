"""Validation rules as Great Expectations suites. GX's usage analytics stay off."""
import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
