"""What the tests share: the throwaway PostgreSQL server and its databases (database.py) and
the app served over real HTTP (server.py)."""
