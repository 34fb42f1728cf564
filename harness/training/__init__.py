"""harness/training"""
