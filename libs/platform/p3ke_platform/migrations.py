"""Alembic, per service: each service keeps its own `migrations/` and calls run_env() from env.py."""

from __future__ import annotations

from sqlalchemy import MetaData, pool

from p3ke_platform.db import is_sqlite, make_engine
from p3ke_platform.service import ServiceSpec
from p3ke_platform.settings import Settings


def alembic_config(spec: ServiceSpec, url: str) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(spec.migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["p3ke_service"] = spec.name
    return cfg


def upgrade(spec: ServiceSpec, settings: Settings, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(spec, settings.effective_database_url), revision)  # type: ignore[arg-type]


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=is_sqlite(url))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=is_sqlite(url), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
