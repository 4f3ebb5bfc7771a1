"""Quiz scoring, retakes, the attestation matrix, quiz links and their tenancy."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from onboarding import training
from onboarding.localtime import format_local
from onboarding.models import Attestation, QuizAnswer, QuizQuestion, TrainingModule
from onboarding.quiz_attempts import quiz_attempts_left
from tests.factories import MerchantFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def module(merchant):
    module = TrainingModule.objects.create(
        merchant=merchant, title="Payments with the card", pass_threshold_percent=Decimal(75)
    )
    q1 = QuizQuestion.objects.create(module=module, text="Q1 single", position=1)
    q2 = QuizQuestion.objects.create(module=module, text="Q2 multiple", multiple=True, position=2)
    q3 = QuizQuestion.objects.create(module=module, text="Q3 third", position=3)
    q4 = QuizQuestion.objects.create(module=module, text="Q4 fourth", position=4)
    answers = {}
    for question, spec in ((q1, [1, 0]), (q2, [1, 1, 0]), (q3, [0, 1]), (q4, [1, 0])):
        answers[question.pk] = [
            QuizAnswer.objects.create(question=question, text=f"a{i}", is_correct=bool(c))
            for i, c in enumerate(spec)
        ]
    module.answer_map = answers
    module.qs = [q1, q2, q3, q4]
    return module


def right(module):
    return {
        qid: {a.pk for a in answers if a.is_correct} for qid, answers in module.answer_map.items()
    }


@pytest.fixture
def staff(merchant):
    return StaffMemberFactory(merchant=merchant, full_name="Anna")


def test_all_correct_scores_100(module):
    result = training.quiz_score(module=module, answers=right(module))
    assert (result.correct, result.total, result.score_percent, result.passed) == (
        4,
        4,
        Decimal("100.00"),
        True,
    )


def test_multiple_answer_question_needs_exactly_the_correct_set(module):
    q1, q2, q3, q4 = module.qs
    answers = right(module)
    a = module.answer_map[q2.pk]
    answers[q2.pk] = {a[0].pk}  # one of two correct: wrong
    result = training.quiz_score(module=module, answers=answers)
    assert result.correct == 3 and result.score_percent == Decimal("75.00") and result.passed
    answers[q2.pk] = {a[0].pk, a[1].pk, a[2].pk}  # an extra wrong one: wrong
    assert training.quiz_score(module=module, answers=answers).correct == 3


def test_threshold_and_unanswered(module):
    q1, q2, q3, q4 = module.qs
    answers = right(module)
    del answers[q3.pk]
    answers[q4.pk] = {module.answer_map[q4.pk][1].pk}
    result = training.quiz_score(module=module, answers=answers)
    assert result.correct == 2 and result.score_percent == Decimal("50.00") and not result.passed
    assert result.wrong_questions == [q3.pk, q4.pk]


def test_rounding_of_score(merchant):
    module = TrainingModule.objects.create(merchant=merchant, title="Three")
    for i in range(3):
        question = QuizQuestion.objects.create(module=module, text=f"Q{i}")
        QuizAnswer.objects.create(question=question, text="yes", is_correct=True)
    first = module.questions.first()
    result = training.quiz_score(module=module, answers={first.pk: {first.answers.get().pk}})
    assert result.score_percent == Decimal("33.33")


def test_foreign_answer_ids_are_rejected(module, merchant):
    other = TrainingModule.objects.create(merchant=merchant, title="Other")
    question = QuizQuestion.objects.create(module=other, text="X")
    foreign = QuizAnswer.objects.create(question=question, text="x", is_correct=True)
    answers = right(module)
    answers[module.qs[0].pk] = {foreign.pk}
    with pytest.raises(ValidationError):
        training.quiz_score(module=module, answers=answers)
    with pytest.raises(ValidationError):
        training.quiz_score(module=module, answers={question.pk: {foreign.pk}})


def test_retakes_keep_history(module, staff):
    q1 = module.qs[0]
    wrong = right(module)
    wrong[q1.pk] = {module.answer_map[q1.pk][1].pk}
    wrong[module.qs[2].pk] = {module.answer_map[module.qs[2].pk][0].pk}
    first = training.attestation_submit(staff=staff, module=module, answers=wrong)
    assert (first.attempt, first.passed, first.score_percent) == (1, False, Decimal("50.00"))
    assert first.pass_threshold_percent == Decimal("75.00")
    second = training.attestation_submit(staff=staff, module=module, answers=right(module))
    assert (second.attempt, second.passed, second.score_percent) == (2, True, Decimal("100.00"))
    assert Attestation.objects.filter(staff=staff, module=module).count() == 2
    # The threshold in force is recorded on the attempt.
    module.pass_threshold_percent = Decimal(100)
    module.save()
    first.refresh_from_db()
    assert first.pass_threshold_percent == Decimal("75.00")
    assert second.answers[str(q1.pk)] == sorted(
        a.pk for a in module.answer_map[q1.pk] if a.is_correct
    )


def test_submit_rejects_other_merchants_module_and_empty_module(module, merchant):
    stranger = StaffMemberFactory(merchant=MerchantFactory())
    with pytest.raises(ValidationError):
        training.attestation_submit(staff=stranger, module=module, answers=right(module))
    empty = TrainingModule.objects.create(merchant=merchant, title="Empty")
    staff = StaffMemberFactory(merchant=merchant)
    with pytest.raises(ValidationError, match="no questions"):
        training.attestation_submit(staff=staff, module=empty, answers={})
    module.is_active = False
    module.save()
    with pytest.raises(ValidationError):
        training.attestation_submit(staff=staff, module=module, answers=right(module))


def test_matrix_latest_attempt_and_best(module, merchant, staff):
    other_module = TrainingModule.objects.create(merchant=merchant, title="Rules")
    q = QuizQuestion.objects.create(module=other_module, text="Q")
    QuizAnswer.objects.create(question=q, text="ok", is_correct=True)
    bob = StaffMemberFactory(merchant=merchant, full_name="Bob")
    StaffMemberFactory(merchant=MerchantFactory(), full_name="Elsewhere")
    now = timezone.now()
    # Anna: passed, then failed a retake -> latest is failed, best 100.
    training.attestation_submit(
        staff=staff, module=module, answers=right(module), taken_at=now - dt.timedelta(days=2)
    )
    training.attestation_submit(staff=staff, module=module, answers={}, taken_at=now)
    # Bob: failed, then passed.
    training.attestation_submit(staff=bob, module=module, answers={}, taken_at=now)
    training.attestation_submit(
        staff=bob, module=module, answers=right(module), taken_at=now + dt.timedelta(minutes=1)
    )
    matrix = training.attestation_matrix(merchant=merchant)
    assert [m.title for m in matrix.modules] == ["Payments with the card", "Rules"]
    states = {row.staff.full_name: [c.state for c in row.cells] for row in matrix.rows}
    assert states == {"Anna": ["failed", "none"], "Bob": ["passed", "none"]}
    anna = next(r for r in matrix.rows if r.staff.full_name == "Anna")
    assert anna.cells[0].best_score == Decimal("100.00") and anna.cells[0].attempts == 2
    assert anna.cells[0].latest.score_percent == Decimal("0.00")


def test_quiz_links_are_unguessable_and_replaceable(staff):
    link = training.quiz_link_for(staff=staff)
    assert len(link.token) >= 40
    assert training.quiz_link_for(staff=staff).token == link.token
    assert training.staff_by_token(token=link.token) == staff
    old = link.token
    training.quiz_link_regenerate(staff=staff)
    assert training.staff_by_token(token=old) is None
    assert training.staff_by_token(token="") is None
    staff.is_active = False
    staff.save()
    assert training.staff_by_token(token=training.quiz_link_for(staff=staff).token) is None


# --- the public quiz page ------------------------------------------------------------------


def test_quiz_page_flow_records_attestation(client, module, staff):
    token = training.quiz_link_for(staff=staff).token
    home = client.get(reverse("onboarding:quiz_home", args=[token]))
    assert home.status_code == 200 and "Payments with the card" in home.content.decode()
    assert "noindex" in home.content.decode()
    url = reverse("onboarding:quiz_take", args=[token, module.pk])
    page = client.get(url).content.decode()
    assert "Q1 single" in page and 'type="checkbox"' in page and 'type="radio"' in page
    data = {}
    for question in module.qs:
        chosen = [str(a.pk) for a in module.answer_map[question.pk] if a.is_correct]
        data[f"q{question.pk}"] = chosen if question.multiple else chosen[0]
    response = client.post(url, data)
    assert response.status_code == 302
    attestation = Attestation.objects.get(staff=staff)
    assert attestation.passed and attestation.score_percent == Decimal("100.00")
    result = client.get(response["Location"]).content.decode()
    assert "Passed" in result and "4 of 4" not in result and "100.00" not in result


def test_quiz_form_requires_every_answer(client, module, staff):
    token = training.quiz_link_for(staff=staff).token
    url = reverse("onboarding:quiz_take", args=[token, module.pk])
    response = client.post(
        url, {f"q{module.qs[0].pk}": str(module.answer_map[module.qs[0].pk][0].pk)}
    )
    assert response.status_code == 200
    assert not Attestation.objects.exists()


def test_quiz_csrf_is_enforced(module, staff):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    token = training.quiz_link_for(staff=staff).token
    url = reverse("onboarding:quiz_take", args=[token, module.pk])
    assert csrf_client.post(url, {}).status_code == 403


def test_quiz_link_exposes_only_that_staff_members_quiz(client, module, staff, merchant):
    other_merchant = MerchantFactory()
    other_module = TrainingModule.objects.create(merchant=other_merchant, title="Secret")
    other_staff = StaffMemberFactory(merchant=other_merchant)
    token = training.quiz_link_for(staff=staff).token
    assert (
        "Secret" not in client.get(reverse("onboarding:quiz_home", args=[token])).content.decode()
    )
    assert (
        client.get(reverse("onboarding:quiz_take", args=[token, other_module.pk])).status_code
        == 404
    )
    assert client.get(reverse("onboarding:quiz_home", args=["not-a-token"])).status_code == 404
    # Someone else's attestation is not visible through this link.
    theirs = training.attestation_submit(
        staff=StaffMemberFactory(merchant=merchant), module=module, answers={}
    )
    assert client.get(reverse("onboarding:quiz_result", args=[token, theirs.pk])).status_code == 404
    training.quiz_link_for(staff=other_staff)
    # No admin access through the quiz link.
    assert client.get(reverse("admin:index")).status_code == 302


def test_matrix_page_is_scoped(client, module, staff, merchant):
    specialist = UserFactory(username="spec-m", role="specialist")
    merchant.specialists.add(specialist)
    hidden = MerchantFactory(name="Hidden merchant")
    StaffMemberFactory(merchant=hidden, full_name="Hidden cashier")
    training.attestation_submit(staff=staff, module=module, answers=right(module))
    training.quiz_link_for(staff=staff)
    client.force_login(specialist)
    url = reverse("admin:onboarding_training_matrix")
    body = client.get(url).content.decode()
    assert "Anna" in body and "Passed" in body and "/quiz/" in body
    body = client.get(url, {"merchant": hidden.pk}).content.decode()
    assert "Hidden cashier" not in body and "Hidden merchant" not in body


def test_standard_modules_install_idempotent(merchant):
    created = training.modules_install_standard(merchant=merchant)
    assert len(created) == 4
    assert training.modules_install_standard(merchant=merchant) == []
    titles = {m.title for m in created}
    assert "Оплата с картой лояльности" in titles
    for module in created:
        assert module.questions.count() >= 2
        for question in module.questions.all():
            correct = question.answers.filter(is_correct=True).count()
            assert correct >= 1 and (question.multiple or correct == 1)


# --- attempts per period, and what a result reveals -----------------------------------------


def wrong_answers(module):
    """Every question answered with its first wrong answer."""
    return {
        qid: {next(a.pk for a in answers if not a.is_correct)}
        for qid, answers in module.answer_map.items()
    }


def post_data(answers):
    return {f"q{qid}": [str(pk) for pk in chosen] for qid, chosen in answers.items()}


def test_attempts_are_limited_per_period(module, staff, settings):
    settings.QUIZ_MAX_ATTEMPTS = 3
    settings.QUIZ_ATTEMPT_PERIOD_HOURS = 24
    start = timezone.now() - dt.timedelta(hours=30)
    for minutes in (0, 10, 20):
        training.attestation_submit(
            staff=staff,
            module=module,
            answers=wrong_answers(module),
            taken_at=start + dt.timedelta(minutes=minutes),
        )
    # A fourth attempt within 24 hours of the first is refused, even with the right answers.
    with pytest.raises(ValidationError, match="all 3 attempts"):
        training.attestation_submit(
            staff=staff,
            module=module,
            answers=right(module),
            taken_at=start + dt.timedelta(hours=2),
        )
    assert Attestation.objects.filter(staff=staff).count() == 3
    # The first attempt leaves the window 24 hours after it: one attempt opens again.
    second_left = start + dt.timedelta(hours=24, minutes=1)
    allowance = quiz_attempts_left(staff=staff, module=module, at=second_left)
    assert (allowance.left, allowance.next_at) == (1, None)
    training.attestation_submit(staff=staff, module=module, answers={}, taken_at=second_left)
    closed = quiz_attempts_left(staff=staff, module=module, at=second_left)
    assert closed.left == 0 and closed.next_at == start + dt.timedelta(hours=24, minutes=10)
    # Another module and another person have their own attempts.
    other = StaffMemberFactory(merchant=staff.merchant)
    assert quiz_attempts_left(staff=other, module=module).left == 3


def test_page_refuses_attempt_over_the_limit_with_local_time(client, module, staff, settings):
    settings.QUIZ_MAX_ATTEMPTS = 2
    staff.merchant.time_zone = "Asia/Novokuznetsk"  # UTC+7
    staff.merchant.save()
    token = training.quiz_link_for(staff=staff).token
    url = reverse("onboarding:quiz_take", args=[token, module.pk])
    first = timezone.now()
    for _attempt in range(2):
        assert client.post(url, post_data(wrong_answers(module))).status_code == 302
    taken = Attestation.objects.filter(staff=staff).order_by("taken_at").first().taken_at
    opens = taken + dt.timedelta(hours=24)
    local_opens = format_local(opens, staff.merchant)  # Novokuznetsk time, not UTC
    assert local_opens != format_local(opens, "UTC")
    # A script posting the right answers now gets the refusal, and nothing is recorded.
    response = client.post(url, post_data(right(module)))
    assert response.status_code == 200
    body = response.content.decode()
    assert "You have used all 2 attempts allowed for this quiz" in body
    assert f"opens on {local_opens}." in body
    assert Attestation.objects.filter(staff=staff).count() == 2
    assert (first - taken).total_seconds() < 60
    # The quiz page no longer shows the questions; the module list says when it opens.
    page = client.get(url).content.decode()
    assert "Q1 single" not in page and "You have used all 2 attempts" in page
    home = client.get(reverse("onboarding:quiz_home", args=[token])).content.decode()
    assert f"Next attempt on {local_opens}" in home
    assert url not in home


def test_refusal_reads_in_russian(module, staff, settings):
    from django.utils import translation

    settings.QUIZ_MAX_ATTEMPTS = 1
    training.attestation_submit(staff=staff, module=module, answers={})
    with translation.override("ru"), pytest.raises(ValidationError) as refused:
        training.attestation_submit(staff=staff, module=module, answers={})
    assert "Следующая попытка откроется" in refused.value.messages[0]


def test_result_page_reveals_neither_score_nor_answers(client, module, staff):
    token = training.quiz_link_for(staff=staff).token
    url = reverse("onboarding:quiz_take", args=[token, module.pk])
    half = right(module)
    half[module.qs[0].pk] = {module.answer_map[module.qs[0].pk][1].pk}
    half[module.qs[2].pk] = {module.answer_map[module.qs[2].pk][0].pk}
    response = client.post(url, post_data(half))
    attestation = Attestation.objects.get(staff=staff)
    assert attestation.score_percent == Decimal("50.00")  # recorded for the specialist
    result = client.get(response["Location"]).content.decode()
    assert "Not passed" in result and "2 attempts left" in result
    assert "50.00" not in result and "2 of 4" not in result
    for question in module.qs:  # neither the questions nor any answer text
        assert question.text not in result
    home = client.get(reverse("onboarding:quiz_home", args=[token])).content.decode()
    assert "50.00" not in home and "Not passed" in home
