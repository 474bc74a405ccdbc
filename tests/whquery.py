"""Read a warehouse file in tests (read-only, closed straight after)."""
import duckdb


def query(path, sql, params=None):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
