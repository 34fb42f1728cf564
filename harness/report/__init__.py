"""Built-in reporting plugins: the console reporter and the leaderboard writer."""
