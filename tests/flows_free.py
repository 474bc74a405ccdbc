"""Constants shared by tests that must not import Prefect."""
KEY = "test-pseudonym-key-0123456789abcdef"
