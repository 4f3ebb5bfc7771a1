"""onboarding's tables, one module per concern; every model is importable from `onboarding.models`.

- `merchants`: merchants, branches, Point A and staff (the tenancy every app builds on);
- `checklists`: checklist templates, merchant tasks and the onboarding log;
- `training`: training modules, quizzes, quiz links and attestations;
- `bonus`: the specialists' staff bonus periods and lines;
- `owner_links`: the owner's read-only links and their use."""

from .bonus import (  # noqa: F401
    BonusLine,
    BonusPeriod,
)
from .checklists import (  # noqa: F401
    OPEN_TASK_STATUSES,
    ChecklistFact,
    ChecklistSide,
    ChecklistTemplate,
    ChecklistTemplateItem,
    MerchantTask,
    OnboardingEvent,
    TaskStatus,
)
from .merchants import (  # noqa: F401
    _LOGO_SIGNATURES,
    GLOBAL_STORE_ID_LENGTH,
    HEX_COLOR,
    LOGO_MAX_BYTES,
    PERCENT_VALIDATORS,
    Branch,
    BusinessType,
    Country,
    Currency,
    Merchant,
    OnboardingStatus,
    PointAItem,
    PosIntegration,
    StaffMember,
    StaffRole,
    validate_logo,
    validate_time_zone,
)
from .owner_links import (  # noqa: F401
    OwnerLink,
    OwnerLinkUse,
)
from .training import (  # noqa: F401
    Attestation,
    QuizAnswer,
    QuizLink,
    QuizQuestion,
    TrainingModule,
)
