"""loyalty's tables, one module per concern; every model is importable from `loyalty.models`.

- `choices`: the enumerations the tables share (campaign kinds, channels, ledger kinds, …);
- `program`: the program and its tier ladder (configuration);
- `campaigns`: campaigns, the certificates they give and the issuances they record;
- `records`: the engine's records: purchases, their lines, refunds and the points ledger;
- `outbox`: messages waiting for or after delivery;
- the delivery channels', the forecast's and the POS adapters' tables live beside their code."""

from .campaigns import (  # noqa: F401
    CAMPAIGN_KIND_FIELDS,
    CAMPAIGN_PARAM_FIELDS,
    Campaign,
    CampaignDayMark,
    CampaignIssuance,
    Certificate,
)
from .choices import (  # noqa: F401
    MONEY,
    PERCENT,
    POINTS,
    BudgetUnit,
    CampaignAudience,
    CampaignKind,
    Channel,
    LedgerKind,
    PaymentType,
    ReferralTrigger,
    ReviewPlatform,
    RewardForm,
)
from .outbox import (  # noqa: F401
    OutboxMessage,
)
from .program import (  # noqa: F401
    Program,
    Tier,
)
from .records import (  # noqa: F401
    LedgerEntry,
    Purchase,
    PurchaseLine,
    Refund,
)

# isort: split
# Tables that live beside their code; imported after the tables above, which they use.
from ..channels.models import (  # noqa: E402,F401  (models of the delivery channels)
    ChannelOptOut,
    ChannelSettings,
    TelegramLink,
    TelegramLinkToken,
    TelegramUpdate,
    WebPushSubscription,
)
from ..forecast.models import ProgramDraft  # noqa: E402,F401  (program drafts for the forecast)
from ..pos.models import PendingRefund, PosEvent  # noqa: E402,F401  (models of the POS adapters)
from ..sources import PurchaseSource  # noqa: F401  (callers import it with the models)
