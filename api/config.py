"""The one Settings, read from the environment (``FUND_LEDGER_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.clients import Network, proxy_networks
from ledger.store.database import DEFAULT_DATABASE_URL
from projections.statements.ratios import RatioBasis, Thresholds

# The district's defaults (api.district, `fund-ledger district serve`): funds open at once,
# connections in each open fund's pool, and how long an idle fund stays open. Here, not in
# api.district, so that the command line reads them without importing the web app.
OPEN_MAX = 16
POOL_MAX = 4
IDLE_CLOSE_S = 300.0


class Settings(BaseSettings):
    """The service's settings. The key-encryption key is not among them: the ledger reads
    FUND_LEDGER_KEK or FUND_LEDGER_KEK_FILE wherever it is opened (``ledger.store.kek``)."""

    model_config = SettingsConfigDict(env_prefix="FUND_LEDGER_", extra="ignore")

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="sqlite:///path (embedded default) or postgresql://user:pw@host:port/db",
    )
    read_your_writes_wait_s: float = Field(
        2.0,
        ge=0,
        le=10,
        description="How long a write, or a read after a gift answered before its views, "
        "waits for the views to show it; past it the answer goes as the views stand.",
    )
    group_commit_window_s: float = Field(
        0.002,
        ge=0,
        le=0.1,
        description="How long a single donation waits for others to share its transaction.",
    )
    group_commit_batch_size_max: int = Field(
        256, ge=1, le=1000, description="Most single donations saved in one transaction."
    )
    request_body_bytes_max: int = Field(
        8 * 1024 * 1024, ge=1024, description="Larger request bodies are refused unread."
    )
    request_deadline_s: float = Field(
        8.0,
        gt=0,
        le=300,
        description="A request with no answer by then gets 503 and Retry-After (store down).",
    )
    store_probe_timeout_s: float = Field(
        3.0, gt=0, le=30, description="How long /healthz waits for the store before saying down."
    )
    views_elsewhere: bool = Field(
        False,
        description="The views are kept, and checkpoints signed, by another process "
        "(set by `serve --workers` for its API processes; PostgreSQL only).",
    )
    answer_gifts_before_views: bool = Field(
        False,
        description="Answer a single gift once durable, and make every other request wait "
        "until the views show it (read-your-writes held where the views are read). Only "
        "where every read of the store goes through this process: set by `serve` with one "
        "API process. Elsewhere (several processes, the district) each gift waits for its "
        "views before its answer.",
    )
    poll_interval_s: float = Field(0.25, gt=0, le=10, description="SQLite view polling interval.")
    base_url: str = Field(
        "",
        description="Public address of the service (https://fund.example.org): the only address "
        "links and the notice's QR code use, never the request's Host. Without it the printed "
        "notice carries no QR code and says the setting is missing.",
    )
    committee_name: str = Field(
        "",
        max_length=60,
        description="Who signs the printed notice (落款); the fund's name followed by "
        "管理委员会 when empty.",
    )
    supervision_phone: str = Field(
        "", max_length=40, description="The supervising phone printed on the notice (监督电话)."
    )
    supervision_address: str = Field(
        "",
        max_length=120,
        description="Where residents may raise a question in person, printed on the notice.",
    )
    notice_display_days: int = Field(
        15, ge=1, le=90, description="How long a printed notice stays up (公示期), in days."
    )
    signing_key_file: str = Field(
        "fund-ledger-signing.key",
        description="The checkpoint signing key (fund-ledger keys init); never in the database.",
    )
    auth_failures_max: int = Field(
        10, ge=1, description="Failed authentications a client may make per minute."
    )
    trusted_proxies: str = Field(
        "",
        description="Reverse proxies whose X-Forwarded-For is believed: comma-separated "
        "addresses or networks (e.g. 127.0.0.1, 10.0.0.0/8); none by default.",
    )
    checkpoint_interval_s: float = Field(
        2.0, gt=0, le=3600, description="How often a grown log gets a new signed checkpoint."
    )
    management_share_max: Decimal = Field(
        Decimal("0.10"), description="Highest share of spending on management (管理费用)."
    )
    charitable_spending_min: Decimal = Field(
        Decimal("0.70"),
        description="Lowest programme spending (业务活动成本) as a share of the ratio basis.",
    )
    ratio_basis: RatioBasis = Field(
        RatioBasis.PREVIOUS_YEAR_INCOME,
        description=(
            "What charitable spending is measured against: previous_year_income (a charity "
            "with public fundraising: 70 % of the previous year's total income) or "
            "previous_year_end_net_assets (a foundation without public fundraising)."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            msg = (
                "FUND_LEDGER_BASE_URL must be an http(s) address such as "
                f"https://fund.example.org, not {value!r}"
            )
            raise ValueError(msg)
        return value.rstrip("/")

    def public_site(self) -> PublicSite:
        return PublicSite(
            self.base_url,
            self.committee_name,
            self.supervision_phone,
            self.supervision_address,
            self.notice_display_days,
        )

    def proxy_networks(self) -> tuple[Network, ...]:
        """The trusted proxies as networks; a malformed entry is a ValueError naming it."""
        return proxy_networks(self.trusted_proxies)

    def thresholds(self) -> Thresholds:
        return Thresholds(self.management_share_max, self.charitable_spending_min, self.ratio_basis)


@dataclass(frozen=True)
class PublicSite:
    """What the public pages and the printed notice say about where and who the fund is."""

    base_url: str
    committee_name: str
    supervision_phone: str
    supervision_address: str
    notice_display_days: int
