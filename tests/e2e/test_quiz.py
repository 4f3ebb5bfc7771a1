"""A staff member opens the quiz link the specialist shared, fails, retakes and passes;
the attempts land on their record."""

import pytest

from onboarding.models import Attestation
from onboarding.training import modules_install_standard, quiz_link_for
from tests.factories import MerchantFactory, StaffMemberFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def answer_all(page, module, *, correct: bool):
    for question in module.questions.prefetch_related("answers"):
        answers = list(question.answers.all())
        chosen = [a for a in answers if a.is_correct == correct] or answers[:1]
        if not question.multiple:
            chosen = chosen[:1]
        for answer in chosen:
            page.check(f"input[name='q{question.pk}'][value='{answer.pk}']")


def test_staff_member_takes_quiz_from_link(page, live_server, artifacts_dir):
    merchant = MerchantFactory(name="ruStore")
    staff = StaffMemberFactory(merchant=merchant, full_name="Анна Кассир")
    module = modules_install_standard(merchant=merchant)[0]
    token = quiz_link_for(staff=staff).token

    page.goto(f"{live_server.url}/quiz/{token}/")
    assert "Анна Кассир" in page.content()
    page.locator(f"a[href='/quiz/{token}/{module.pk}/']").click()
    page.wait_for_url(f"**/quiz/{token}/{module.pk}/")

    answer_all(page, module, correct=False)
    page.locator("form.quiz button[type=submit]").click()
    page.wait_for_url("**/result/*/")
    result = page.locator("#quiz-result")
    # Pass or fail and the attempts left; never the score or which answers were wrong.
    assert result.locator(".badge.failed").count() == 1
    assert "2 attempts left" in result.inner_text() and " of " not in result.inner_text()
    first = Attestation.objects.get(staff=staff)
    assert not first.passed and first.attempt == 1

    page.locator(f"a[href='/quiz/{token}/{module.pk}/']").click()
    answer_all(page, module, correct=True)
    page.locator("form.quiz button[type=submit]").click()
    page.wait_for_url("**/result/*/")
    page.screenshot(path=str(artifacts_dir / "quiz-passed.png"), full_page=True)
    latest = Attestation.objects.filter(staff=staff).order_by("-attempt").first()
    assert latest.attempt == 2 and latest.passed and str(latest.score_percent) == "100.00"
    assert page.locator("#quiz-result .badge.passed").count() == 1
    assert "100" not in page.locator("#quiz-result").inner_text()

    # The modules page shows the latest result (not its score); a wrong token shows nothing.
    page.goto(f"{live_server.url}/quiz/{token}/")
    assert page.locator(".badge.passed").count() == 1
    assert "100.00" not in page.content() and "100,00" not in page.content()
    response = page.goto(f"{live_server.url}/quiz/wrong-token/")
    assert response.status == 404
