"""The leaderboard JSON Schema (installed as ``harness.leaderboards``) and published leaderboards."""
