"""How long a staff member waits for a household register import.

    python tests/bench/import_bench.py --rows 5000 [--db sqlite|postgresql]

Builds the demo county into a fresh database, writes a register of --rows
households spread over the county's villages as an .xlsx (the 建档立卡
columns villages keep, ID-card numbers included, which the import drops),
then times parsing, the preview (every row checked, duplicates looked for)
and the import itself, as the import page runs them. A script that prints
figures, not a test.
"""
import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5000)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = p.parse_args()

    from openpyxl import Workbook
    from sqlalchemy import func, select

    from app import create_app
    from app.demo import build_demo
    from app.extensions import db
    from app.models import AuditRecord, Household, Region, User
    from app.services.people import register_import as imports

    workdir = Path(tempfile.mkdtemp(prefix="aixin-import-bench-"))
    if args.db == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"

        def drop():
            pass
    else:
        import psycopg

        name = f"aixin_import_bench_{os.getpid()}"
        admin = args.pg.rstrip("/") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = args.pg.rstrip("/") + "/" + name

        def drop():
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"},
                     instance_path=str(workdir / "instance"))
    try:
        with app.app_context():
            build_demo(households=300, months=1, echo=lambda *a: None)
            admin = db.session.scalars(select(User).where(User.role == "admin")).first()
            villages = db.session.scalars(select(Region).where(Region.level == "village")
                                          .order_by(Region.id)).all()
            book = Workbook()
            sheet = book.active
            sheet.append(["序号", "乡镇", "村", "户主姓名", "身份证号", "家庭人口", "联系电话", "家庭住址", "户类型"])
            for i in range(args.rows):
                village = villages[i % len(villages)]
                sheet.append([i + 1, village.parent.name, village.name, f"导入户{i:05d}",
                              f"5226011970{i:08d}", 1 + i % 6, f"138{i:08d}", f"{village.name}{i % 40}组",
                              "脱贫户" if i % 5 == 0 else ""])
            data = io.BytesIO()
            book.save(data)
            before = db.session.scalar(select(func.count()).select_from(Household))

            started = time.perf_counter()
            parsed = imports.parse_register(data.getvalue(), "register.xlsx")
            parsed_at = time.perf_counter()
            preview = imports.preview_import(admin, parsed)
            previewed_at = time.perf_counter()
            created = imports.import_households(admin, preview, only_good=False)
            db.session.commit()
            done = time.perf_counter()

            added = db.session.scalar(select(func.count()).select_from(Household)) - before
            audited = db.session.scalar(select(func.count()).select_from(AuditRecord)
                                        .where(AuditRecord.action == "household.create",
                                               AuditRecord.object_id.in_(created)))
            print(f"{args.db}: {args.rows} rows over {len(villages)} villages")
            print(f"  parse   {parsed_at - started:6.2f} s")
            print(f"  preview {previewed_at - parsed_at:6.2f} s  ({preview.good} good, {preview.bad} bad)")
            print(f"  import  {done - previewed_at:6.2f} s  ({added} households added, {audited} audit records)")
            print(f"  total   {done - started:6.2f} s")
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
