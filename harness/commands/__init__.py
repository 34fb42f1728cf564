"""harness/commands"""
