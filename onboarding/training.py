"""Staff training: modules with quizzes, scoring, attestations (retakes keep history), the
shareable quiz links and the staff × module matrix.

Scoring: a question counts as correct only when exactly its correct answers are chosen
(nothing more, nothing less); unanswered questions count as wrong. The score is the share of
correct questions, in percent rounded to 0.01; the attempt passes when the score is at least
the module's threshold (copied onto the attestation, so later threshold changes do not
rewrite history). Every attempt is a new `Attestation` row; the matrix shows the LATEST
attempt's result (current knowledge) and the best score beside it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.money import q

from .models import (
    Attestation,
    Merchant,
    QuizAnswer,
    QuizLink,
    QuizQuestion,
    StaffMember,
    TrainingModule,
)
from .quiz_attempts import quiz_attempt_check

# The standard modules installed for a merchant: (title, material, [(question, multiple,
# [(answer, correct), ...]), ...]).
STANDARD_MODULES = [
    (
        "Оплата с картой лояльности",
        "Клиент показывает карту в приложении или Telegram-боте; кассир сканирует QR-код, "
        "вводит сумму чека, при желании клиента списывает баллы в пределах лимита уровня.",
        [
            (
                "Как кассир находит клиента при оплате?",
                False,
                [
                    ("Сканирует QR-код карты в приложении или боте", True),
                    ("Спрашивает дату рождения", False),
                    ("Ищет по фамилии в тетради", False),
                ],
            ),
            (
                "Сколько баллов можно списать с чека?",
                False,
                [
                    ("Не больше лимита списания уровня клиента", True),
                    ("Всю сумму чека", False),
                    ("Ровно 100 баллов", False),
                ],
            ),
            (
                "На что баллы не списываются?",
                True,
                [
                    ("Акционные и уценённые товары", True),
                    ("Покупки в рассрочку", True),
                    ("Обычные товары по полной цене", False),
                ],
            ),
        ],
    ),
    (
        "Приём заказов в приложении",
        "Заказы из приложения приходят круглосуточно; кассир подтверждает заказ, собирает его "
        "и отмечает выдачу, когда клиент забирает товар в филиале.",
        [
            (
                "Что сделать с новым заказом из приложения?",
                False,
                [
                    ("Подтвердить заказ и начать сборку", True),
                    ("Ждать, пока клиент позвонит", False),
                ],
            ),
            (
                "Когда заказ отмечается выданным?",
                False,
                [
                    ("Когда клиент забрал товар и оплатил", True),
                    ("Сразу после подтверждения", False),
                ],
            ),
        ],
    ),
    (
        "Начисление по номеру телефона",
        "Если у клиента нет телефона с приложением, кассир находит его по номеру телефона и "
        "начисляет баллы; номер вводится полностью, с кодом страны.",
        [
            (
                "Когда начислять по номеру телефона?",
                False,
                [
                    ("Когда клиент не может показать карту", True),
                    ("Всегда, вместо карты", False),
                ],
            ),
            (
                "Как вводится номер?",
                False,
                [
                    ("Полностью, с кодом страны", True),
                    ("Последние четыре цифры", False),
                ],
            ),
        ],
    ),
    (
        "Правила программы",
        "Уровни, кешбэк, приветственные баллы, реферальная программа и срок действия баллов.",
        [
            (
                "Что получает новый участник?",
                False,
                [
                    ("Приветственные баллы", True),
                    ("Скидку 50% навсегда", False),
                ],
            ),
            (
                "За что начисляются реферальные баллы?",
                True,
                [
                    ("За покупки приглашённых друзей", True),
                    ("За разовый бонус при первой покупке друга", True),
                    ("За отзыв конкурента", False),
                ],
            ),
            (
                "Когда сгорают баллы?",
                False,
                [
                    ("Через срок программы после последней покупки", True),
                    ("Каждый понедельник", False),
                ],
            ),
        ],
    ),
]


@transaction.atomic
def modules_install_standard(*, merchant: Merchant) -> list[TrainingModule]:
    """Create the standard training modules (with quizzes) the merchant lacks. Idempotent."""
    existing = set(merchant.training_modules.values_list("title", flat=True))
    created = []
    for position, (title, material, questions) in enumerate(STANDARD_MODULES, start=1):
        if title in existing:
            continue
        module = TrainingModule.objects.create(
            merchant=merchant, title=title, material=material, position=position
        )
        for q_pos, (text, multiple, answers) in enumerate(questions, start=1):
            question = QuizQuestion.objects.create(
                module=module, text=text, multiple=multiple, position=q_pos
            )
            QuizAnswer.objects.bulk_create(
                QuizAnswer(question=question, text=a_text, is_correct=correct, position=a_pos)
                for a_pos, (a_text, correct) in enumerate(answers, start=1)
            )
        created.append(module)
    return created


# --- Quiz links ---------------------------------------------------------------------------


def quiz_link_for(*, staff: StaffMember) -> QuizLink:
    """The staff member's quiz link, created with a fresh random token if missing."""
    link = QuizLink.objects.filter(staff=staff).first()
    if link is None:
        link = QuizLink.objects.create(
            merchant_id=staff.merchant_id, staff=staff, token=secrets.token_urlsafe(32)
        )
    return link


def quiz_links_create_missing(*, merchant: Merchant) -> int:
    """Give every active staff member of `merchant` without a quiz link one; existing links
    are left as they are. Returns how many were created."""
    missing = StaffMember.objects.filter(merchant=merchant, is_active=True, quiz_link__isnull=True)
    count = 0
    for staff in missing:
        quiz_link_for(staff=staff)
        count += 1
    return count


def quiz_link_regenerate(*, staff: StaffMember) -> QuizLink:
    """Replace the token: the old link stops working at once."""
    link = quiz_link_for(staff=staff)
    link.token = secrets.token_urlsafe(32)
    link.save(update_fields=["token"])
    return link


def staff_by_token(*, token: str) -> StaffMember | None:
    """The active staff member a quiz link belongs to, or None."""
    if not token or len(token) > 64:
        return None
    link = (
        QuizLink.objects.select_related("staff__merchant")
        .filter(token=token, staff__is_active=True)
        .first()
    )
    return link.staff if link else None


def modules_for_staff(*, staff: StaffMember) -> QuerySet[TrainingModule]:
    return TrainingModule.objects.filter(merchant_id=staff.merchant_id, is_active=True)


# --- Scoring and attestations ----------------------------------------------------------


@dataclass
class QuizResult:
    correct: int
    total: int
    score_percent: Decimal
    passed: bool
    wrong_questions: list[int] = field(default_factory=list)


def quiz_score(
    *, module: TrainingModule, answers: dict[int, set[int]], questions=None
) -> QuizResult:
    """Score `answers` ({question id: chosen answer ids}) against the module's quiz.
    Raises ValidationError if an id does not belong to this module."""
    questions = list(questions if questions is not None else module.questions.all())
    correct_by_question: dict[int, set[int]] = {}
    valid_by_question: dict[int, set[int]] = {}
    for answer in QuizAnswer.objects.filter(question__module=module).values(
        "id", "question_id", "is_correct"
    ):
        valid_by_question.setdefault(answer["question_id"], set()).add(answer["id"])
        if answer["is_correct"]:
            correct_by_question.setdefault(answer["question_id"], set()).add(answer["id"])
    question_ids = {question.pk for question in questions}
    for question_id, chosen in answers.items():
        if question_id not in question_ids or not set(chosen) <= valid_by_question.get(
            question_id, set()
        ):
            raise ValidationError(_("The answers do not belong to this quiz."))
    correct = 0
    wrong = []
    for question in questions:
        chosen = set(answers.get(question.pk, set()))
        if chosen and chosen == correct_by_question.get(question.pk, set()):
            correct += 1
        else:
            wrong.append(question.pk)
    total = len(questions)
    score = q(Decimal(correct) * 100 / total) if total else q(0)
    return QuizResult(
        correct=correct,
        total=total,
        score_percent=score,
        passed=bool(total) and score >= module.pass_threshold_percent,
        wrong_questions=wrong,
    )


def attestation_submit(
    *,
    staff: StaffMember,
    module: TrainingModule,
    answers: dict[int, set[int]],
    taken_at=None,
) -> Attestation:
    """Score a quiz attempt and record it as the staff member's next attempt.
    Raises ValidationError if the module is not this staff member's, has no questions, or the
    staff member has no attempt left (`quiz_attempts`)."""
    if module.merchant_id != staff.merchant_id or not module.is_active:
        raise ValidationError(_("This module is not available to this staff member."))
    questions = list(module.questions.all())
    if not questions:
        raise ValidationError(_("This module has no questions yet."))
    result = quiz_score(module=module, answers=answers, questions=questions)
    taken_at = taken_at or timezone.now()
    for _try in range(3):
        try:
            with transaction.atomic():
                # One attempt of this person at a time, so two parallel posts cannot both pass
                # the limit.
                StaffMember.objects.select_for_update().filter(pk=staff.pk).first()
                quiz_attempt_check(staff=staff, module=module, at=taken_at)
                last = (
                    Attestation.objects.filter(staff=staff, module=module).aggregate(
                        m=Max("attempt")
                    )["m"]
                    or 0
                )
                return Attestation.objects.create(
                    merchant_id=staff.merchant_id,
                    staff=staff,
                    module=module,
                    attempt=last + 1,
                    correct_count=result.correct,
                    question_count=result.total,
                    score_percent=result.score_percent,
                    pass_threshold_percent=module.pass_threshold_percent,
                    passed=result.passed,
                    answers={str(k): sorted(v) for k, v in answers.items()},
                    taken_at=taken_at,
                )
        except IntegrityError:
            continue  # a concurrent attempt took the number: take the next one
    raise ValidationError(_("Could not record the attempt, please submit again."))


# --- The matrix ---------------------------------------------------------------------------


@dataclass
class MatrixCell:
    state: str  # "passed" | "failed" | "none"
    latest: Attestation | None = None
    best_score: Decimal | None = None
    attempts: int = 0


@dataclass
class MatrixRow:
    staff: StaffMember
    cells: list[MatrixCell]


@dataclass
class Matrix:
    merchant: Merchant
    modules: list[TrainingModule]
    rows: list[MatrixRow]


def attestation_matrix(*, merchant: Merchant) -> Matrix:
    """Staff × module → passed / failed / not yet, by each pair's latest attempt (three
    queries whatever the size)."""
    modules = list(TrainingModule.objects.filter(merchant=merchant, is_active=True))
    staff = list(
        StaffMember.objects.filter(merchant=merchant, is_active=True).select_related("branch")
    )
    latest: dict[tuple[int, int], Attestation] = {}
    best: dict[tuple[int, int], Decimal] = {}
    counts: dict[tuple[int, int], int] = {}
    for att in Attestation.objects.filter(merchant=merchant).order_by(
        "staff_id", "module_id", "-taken_at", "-attempt"
    ):
        key = (att.staff_id, att.module_id)
        latest.setdefault(key, att)
        best[key] = max(best.get(key, att.score_percent), att.score_percent)
        counts[key] = counts.get(key, 0) + 1
    rows = []
    for person in staff:
        cells = []
        for module in modules:
            key = (person.pk, module.pk)
            att = latest.get(key)
            if att is None:
                cells.append(MatrixCell("none"))
            else:
                cells.append(
                    MatrixCell(
                        "passed" if att.passed else "failed",
                        att,
                        best[key],
                        counts[key],
                    )
                )
        rows.append(MatrixRow(person, cells))
    return Matrix(merchant, modules, rows)


def demo_training(merchant: Merchant) -> None:
    """Standard modules, a quiz link per staff member, and a few attestations
    (deterministic). Idempotent."""
    modules = list(TrainingModule.objects.filter(merchant=merchant))
    if not modules:
        modules = modules_install_standard(merchant=merchant)
    staff_members = list(StaffMember.objects.filter(merchant=merchant, is_active=True))
    for person in staff_members:
        quiz_link_for(staff=person)
    if Attestation.objects.filter(merchant=merchant).exists():
        return
    for s_index, person in enumerate(staff_members):
        for m_index, module in enumerate(modules):
            if (s_index + m_index) % 3 == 2:
                continue  # not yet taken
            questions = list(module.questions.prefetch_related("answers"))
            answers = {}
            for q_index, question in enumerate(questions):
                right = {a.pk for a in question.answers.all() if a.is_correct}
                wrong = {a.pk for a in question.answers.all() if not a.is_correct}
                # Every other person gets the first question of the second module wrong.
                if s_index % 2 == 1 and m_index == 1 and q_index == 0 and wrong:
                    answers[question.pk] = {min(wrong)}
                else:
                    answers[question.pk] = right
            attestation_submit(staff=person, module=module, answers=answers)
