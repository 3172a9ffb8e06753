"""The benchmark's stores and indexes: the same demo data in SQLite (bench/data/<count>/) and in
PostgreSQL (database bench_<count>), each backend's index built and its figures recorded."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"


# -- stores ------------------------------------------------------------------------------------


def settings(data_dir: Path) -> dict:
    """App settings of the SQLite store (whoosh and naive); also used by bench/pages.py."""
    return {
        "DATABASE_URL": f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "INDEX_DIR": str(data_dir / "index"),
        "SECRET_KEY": "bench",
        "SEARCH_BACKEND": "whoosh",
    }


def variant_name(count: int, geocoded: bool = False) -> str:
    """The benchmark variant's name: `<count>`, or `<count>-geocoded` (every location at its own
    point spread within its ZIP, `demo.generate(geocoded=True)`)."""
    return f"{count}-geocoded" if geocoded else str(count)


def pg_database(pg_url: str, count: int, geocoded: bool = False, name: str | None = None) -> tuple[str, str]:
    """(name, URL) of the benchmark database for `count` listings on the server at `pg_url`
    (bench_<count>, or bench_<count>_geocoded for the geocoded variant; `name` when given)."""
    name = name or (f"bench_{count}_geocoded" if geocoded else f"bench_{count}")
    return name, f"{pg_url.rstrip('/')}/{name}"


def pg_settings(pg_url: str, count: int, data_dir: Path, geocoded: bool = False, pg_db: str | None = None) -> dict:
    return {
        "DATABASE_URL": pg_database(pg_url, count, geocoded, pg_db)[1],
        "INDEX_DIR": str(data_dir / "pg-index-unused"),
        "SECRET_KEY": "bench",
        "SEARCH_BACKEND": "postgres",
    }


def app_settings(backend: str, data_dir: Path, pg_url: str, count: int, geocoded: bool = False,
                 pg_db: str | None = None) -> dict:
    return pg_settings(pg_url, count, data_dir, geocoded, pg_db) if backend == "postgres" else settings(data_dir)


def pg_admin_run(pg_url: str, *statements: str) -> None:
    """Run statements (creating and dropping bench_* databases) in AUTOCOMMIT on the server's
    `test` database."""
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{pg_url.rstrip('/')}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def listing_count(url: str) -> int | None:
    """Listings in the database at `url`; None when it or its listing table does not exist."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("select count(*) from listing")).scalar_one()
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def store_ready(backend: str, data_dir: Path, pg_url: str, count: int, geocoded: bool = False,
                pg_db: str | None = None) -> bool:
    """Does the backend's store already hold `count` listings?"""
    if backend == "postgres":
        return listing_count(pg_database(pg_url, count, geocoded, pg_db)[1]) == count
    return (data_dir / "bench.sqlite3").exists() and listing_count(settings(data_dir)["DATABASE_URL"]) == count


def code_fingerprint() -> str:
    """A short hash of the search code (directory/search/*.py): which version built or served."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "directory" / "search").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def pg_search_relations(engine) -> dict[str, int]:
    """Bytes of each relation the PostgreSQL backend owns: tables named search_* (with their indexes
    and TOAST) and indexes named search_* on other tables."""
    from sqlalchemy import text

    sql = text(r"""
        select c.relname, pg_total_relation_size(c.oid)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind in ('r', 'm', 'p') and c.relname like 'search\_%'
        union all
        select i.relname, pg_relation_size(i.oid)
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
        join pg_namespace n on n.oid = i.relnamespace
        where n.nspname = current_schema() and i.relname like 'search\_%' and t.relname not like 'search\_%'
        order by 1
    """)
    with engine.connect() as conn:
        return {name: size for name, size in conn.execute(sql)}


def store_size_mb(backend: str, engine, data_dir: Path) -> float:
    """Size of the whole database (data, reference tables, indexes of every kind)."""
    from sqlalchemy import text

    if backend == "postgres":
        with engine.connect() as conn:
            size = conn.execute(text("select pg_database_size(current_database())")).scalar_one()
    else:
        size = sum(f.stat().st_size for f in data_dir.glob("bench.sqlite3*"))
    return round(size / 2**20, 1)


# -- build -------------------------------------------------------------------------------------


def build(backend: str, data_dir: Path, pg_url: str, count: int, seed: int, generate: bool,
          generate_s: float | None = None, geocoded: bool = False, pg_db: str | None = None) -> dict:
    """Build the backend's index, after generating its store if `generate` (otherwise `generate_s`
    is the time the existing data took, None if unknown); `geocoded`: the geocoded variant's
    store, generated with each location at its own spread point; `pg_db` another database name."""

    from directory import create_app, demo
    from directory.cli import init_db
    from directory.db import get_engine
    from directory.search import rebuild_index

    if backend == "postgres" and generate:
        name = pg_database(pg_url, count, geocoded, pg_db)[0]
        pg_admin_run(pg_url, f'drop database if exists "{name}" with (force)', f'create database "{name}"')
    if backend == "whoosh":
        shutil.rmtree(data_dir / "index", ignore_errors=True)
        if generate:
            for old in data_dir.glob("bench.sqlite3*"):
                old.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)

    app = create_app(app_settings(backend, data_dir, pg_url, count, geocoded, pg_db))
    record: dict = {}
    with app.app_context():
        engine = get_engine()
        init_db()
        if generate:
            started = time.perf_counter()
            demo.generate(engine, count=count, seed=seed, geocoded=geocoded)
            generate_s = time.perf_counter() - started
        if backend == "postgres":
            # Steady state of a live database (autovacuum would get there): statistics and the
            # visibility map, before and after the index build; not counted in either figure.
            record["vacuum_analyze_s"] = vacuum_analyze(engine)
        code = code_fingerprint()
        started = time.perf_counter()
        indexed = rebuild_index(app)
        seconds = time.perf_counter() - started
        if backend == "postgres":
            record["vacuum_analyze_s"] = round(record["vacuum_analyze_s"] + vacuum_analyze(engine), 1)
            relations = pg_search_relations(engine)
            record["relations_mb"] = {name: round(size / 2**20, 1) for name, size in relations.items()}
            size = sum(relations.values())
        else:
            size = sum(f.stat().st_size for f in (data_dir / "index").rglob("*") if f.is_file())
        record["store_mb"] = store_size_mb(backend, engine, data_dir)
        engine.dispose()
    return {
        "code": code,
        "listings": indexed,
        "generate_s": round(generate_s, 1) if generate_s is not None else None,
        "index_build_s": round(seconds, 1),
        "index_rate_per_s": round(indexed / seconds),
        "index_size_mb": round(size / 2**20, 1),
        **record,
    }


def vacuum_analyze(engine) -> float:
    from sqlalchemy import text

    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("vacuum analyze"))
    return round(time.perf_counter() - started, 1)


def build_naive(data_dir: Path) -> dict:
    """The naive baseline's `prepare` (a coordinate index and a denormalised text table)."""
    from bench import naive
    from directory import create_app
    from directory.db import get_engine

    app = create_app(settings(data_dir))
    with app.app_context():
        engine = get_engine()
        started = time.perf_counter()
        naive.prepare(engine)
        seconds = time.perf_counter() - started
        engine.dispose()
    return {"index_build_s": round(seconds, 1)}


def load_records(data_dir: Path) -> dict:
    """Build records by backend (an older build.json holds the whoosh record alone)."""
    path = data_dir / "build.json"
    records = json.loads(path.read_text()) if path.exists() else {}
    return {"whoosh": records} if "listings" in records else records


def prepare(backend: str, args, data_dir: Path, records: dict) -> dict:
    """The backend's build record: reused (--reuse, index present), or built now."""
    if backend == "naive":
        if not (args.reuse and "naive" in records and naive_prepared(data_dir)):
            if not store_ready("whoosh", data_dir, args.pg_url, args.count):
                raise SystemExit("naive needs the SQLite store: include whoosh in --backends once")
            records["naive"] = build_naive(data_dir)
        return records["naive"]
    previous = records.get(backend, {})
    if args.reuse and "index_build_s" in previous and index_present(backend, data_dir, args):
        return previous
    keep = (args.reuse or args.reindex) and store_ready(backend, data_dir, args.pg_url, args.count, args.geocoded,
                                                          args.pg_db)
    if backend == "whoosh" and not keep:
        records.pop("naive", None)  # its table lives in the SQLite store about to be replaced
    records[backend] = build(backend, data_dir, args.pg_url, args.count, args.seed, generate=not keep,
                             generate_s=previous.get("generate_s") if keep else None,
                             geocoded=args.geocoded, pg_db=args.pg_db)
    return records[backend]


def naive_prepared(data_dir: Path) -> bool:
    """Is the baseline's text table in the SQLite store?"""
    import sqlite3
    from contextlib import closing

    path = data_dir / "bench.sqlite3"
    if not path.exists():
        return False
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("select 1 from sqlite_master where name = 'bench_text'").fetchone() is not None


def save_records(data_dir: Path, records: dict, backend: str) -> None:
    """Write this backend's record into build.json, keeping what other runs wrote there since."""
    merged = load_records(data_dir)
    merged[backend] = records[backend]
    if "naive" not in records:
        merged.pop("naive", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "build.json").write_text(json.dumps(merged, indent=2))


def index_present(backend: str, data_dir: Path, args) -> bool:
    if backend == "whoosh":
        return (data_dir / "index").is_dir()
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    from directory.search.postgres.tables import META, layout_version

    engine = create_engine(pg_database(args.pg_url, args.count, args.geocoded, args.pg_db)[1])
    try:
        with engine.connect() as conn:
            layout = conn.execute(text(f"select value from {META} where key = 'layout'")).scalar()
        return layout == layout_version()  # tables of another layout: rebuild
    except SQLAlchemyError:  # no such database or table
        return False
    finally:
        engine.dispose()


