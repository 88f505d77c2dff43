"""Settings read from the environment (``FUND_LEDGER_*``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.storage import DEFAULT_DATABASE_URL
from projections.queries import Thresholds


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUND_LEDGER_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path (embedded default) or postgresql://user:pw@host:port/db",
    )
    management_share_max: Decimal = Field(
        Decimal("0.10"), description="Highest share of spending on management (管理费用)."
    )
    charitable_spending_min: Decimal = Field(
        Decimal("0.70"),
        description="Lowest charitable spending as a share of net assets at the period start.",
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(self.management_share_max, self.charitable_spending_min)
