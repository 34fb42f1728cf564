"""harness/scoring"""
