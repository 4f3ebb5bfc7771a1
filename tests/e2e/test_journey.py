"""The specialist's journey from zero to launch, in the browser, on a fresh merchant."""

import os
import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from crm.models import Client
from loyalty.models import Campaign, Purchase
from onboarding.models import Attestation, Merchant, MerchantTask, OnboardingEvent
from tests.crm.import_files import sample_rows, write_csv
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "journey"
DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "journey"
KEY_SHOTS = {
    "02-hub",
    "03-people",
    "06-quiz-phone",
    "07-hub-facts",
    "08-checklist-phone",
    "10-owner-dashboard",
    "11-cashier-phone",
}
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
HUB = re.compile(r".*/admin/onboarding/merchant/\d+/change/.*")


@pytest.fixture
def browser_context_args(browser_context_args):
    # The product speaks Russian to its specialists; the walk and its screenshots do too.
    return {**browser_context_args, "locale": "ru-RU"}


def speak_russian(page, base):
    """The suite's default language is English; the journey is walked in the product's own."""
    page.context.add_cookies([{"name": "django_language", "value": "ru", "url": base}])


def shoot(page, name):
    """Every step goes to the (ignored) artifacts; with DOC_SCREENSHOTS=1 the key ones also
    replace the pictures in docs/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if name in KEY_SHOTS and os.environ.get("DOC_SCREENSHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_SHOTS / f"{name}.png"))


def journey_step(page, key):
    return page.locator(f"#journey li[data-step={key}]")


def test_specialist_journey(page, live_server, tmp_path, standard_checklist):
    UserFactory(username="spec-journey", role="specialist")
    base = live_server.url
    speak_russian(page, base)
    page.set_viewport_size(DESKTOP)
    try:
        _walk(page, base, tmp_path)
    finally:
        shoot(page, "last")
        (SHOTS / "last.html").write_text(page.content())


def _walk(page, base, tmp_path):
    page.goto(f"{base}/admin/login/?next=/admin/onboarding/merchant/add/")
    page.fill("input[name=username]", "spec-journey")
    page.fill("input[name=password]", "pass-Word-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/merchant/add/")

    # 1. The merchant: profile with a time zone found by typing, and a branch.
    page.fill("input[name=name]", "Кофейня Зерно")
    page.fill("input[name=city]", "Томск")
    page.locator("select[name=time_zone] + .select2 .select2-selection").click()
    page.locator(".select2-container--open input.select2-search__field").fill("Tomsk")
    page.locator(".select2-results__option", has_text="Asia/Tomsk").click()
    shoot(page, "01-profile")
    page.locator("a[href='#branches']").click()
    page.locator("#branches-group a.add-row").click()
    page.fill("input[name=branches-0-name]", "Ленина, 1")
    page.locator("button[name=_continue]").first.click()
    page.wait_for_url(HUB)
    merchant = Merchant.objects.get(name="Кофейня Зерно")
    assert merchant.time_zone == "Asia/Tomsk"
    shoot(page, "02-hub")
    expect(journey_step(page, "people")).to_have_attribute("data-state", "next")

    # 2. People & logins: the owner by e-mail, the cashier with a one-time password.
    journey_step(page, "people").locator("a").click()
    page.wait_for_url("**/people/")
    page.select_option("select[name=role]", "owner")
    page.fill("input[name=full_name]", "Ольга Зернова")
    page.fill("input[name=email]", "olga@zerno.example")
    page.select_option("select[name=delivery]", "email")
    page.locator("#invite-form button[type=submit]").click()
    page.wait_for_url("**/people/")
    link = re.search(r"/accounts/set-password/\S+/", mail.outbox[-1].body).group(0)
    page.select_option("select[name=role]", "cashier")
    page.fill("input[name=full_name]", "Анна Кассир")
    page.fill("input[name=email]", "")
    page.fill("input[name=username]", "anna-zerno")
    page.select_option("select[name=delivery]", "password")
    page.select_option("select[name=branch]", label="Ленина, 1")
    page.locator("#invite-form button[type=submit]").click()
    cashier_password = page.locator("#one-time-password .ob-secret").inner_text().strip()
    shoot(page, "03-people")
    page.locator("a", has_text=re.compile("←")).first.click()
    page.wait_for_url(HUB)

    # 3. Client base: the import page knows the merchant.
    journey_step(page, "clients").locator("a").click()
    path = write_csv(tmp_path / "clients.csv", sample_rows(), delimiter=";", bom=True)
    page.set_input_files("input[name=import_file]", str(path))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_selector("#import-columns")
    page.locator("#import-columns button[name=apply]").click()
    page.wait_for_selector("#import-dry-run")
    with page.expect_navigation():
        page.locator("form[action$='process_import/'] button[type=submit]").click()
    shoot(page, "04-import")
    assert Client.objects.filter(merchant=merchant).count() == 3
    page.goto(f"{base}/admin/onboarding/merchant/{merchant.pk}/change/")

    # 4. Program: two tiers.
    journey_step(page, "program").locator("a").click()
    page.wait_for_url("**/admin/loyalty/program/*/change/")
    for row, (name, cashback, threshold) in enumerate(
        [("Зерно", "5", "0"), ("Обжарка", "7", "10000")]
    ):
        page.locator("#tiers-group a.add-row").click()
        page.fill(f"input[name=tiers-{row}-position]", str(row + 1))
        page.fill(f"input[name=tiers-{row}-name]", name)
        page.fill(f"input[name=tiers-{row}-cashback_percent]", cashback)
        page.fill(f"input[name=tiers-{row}-max_redemption_percent]", "30")
        page.fill(f"input[name=tiers-{row}-spend_threshold]", threshold)
    page.locator("button[name=_continue]").first.click()
    page.wait_for_load_state()
    shoot(page, "05-program")
    assert merchant.program.tiers.count() == 2
    page.goto(f"{base}/admin/onboarding/merchant/{merchant.pk}/change/")

    # 5. A campaign, the merchant filled in from the hub.
    journey_step(page, "campaigns").locator("a").click()
    page.select_option("select[name=kind]", "birthday")
    page.fill("input[name=name]", "С днём рождения")
    page.fill("input[name=days_before]", "3")
    page.select_option("select[name=reward_form]", "points")
    page.fill("input[name=reward_points]", "300")
    page.locator("button[name=_save], button[type=submit][name=_save]").first.click()
    page.wait_for_load_state()
    assert Campaign.objects.filter(merchant=merchant).count() == 1, page.content()[:2000]
    page.goto(f"{base}/admin/onboarding/merchant/{merchant.pk}/change/")

    # 6. Training from zero: the standard modules, a quiz link, the cashier passes on a phone.
    journey_step(page, "training").locator("a").click()
    page.locator("#install-form button[type=submit]").click()
    page.wait_for_url("**/training-matrix/**")
    page.locator("#create-links button").click()
    page.wait_for_selector("#matrix input[readonly]")
    quiz_url = page.locator("#matrix input[readonly]").input_value()
    quiz = page.context.new_page()
    quiz.set_viewport_size(PHONE)
    quiz.goto(quiz_url)
    token = quiz_url.rstrip("/").rsplit("/", 1)[-1]
    for module in merchant.training_modules.filter(is_active=True):
        quiz.goto(f"{quiz_url}{module.pk}/")
        answer_all(quiz, module)
        quiz.locator("form.quiz button[type=submit]").click()
        quiz.wait_for_url("**/result/*/")
    shoot(quiz, "06-quiz-phone")
    quiz.close()
    assert Attestation.objects.filter(staff__merchant=merchant, passed=True).count() == 4
    assert token

    # 7. The checklist: facts tick the program, import and training tasks.
    page.goto(f"{base}/admin/onboarding/merchant/{merchant.pk}/change/")
    with page.expect_navigation():
        journey_step(page, "checklist").locator("button").click()
    ticked = MerchantTask.objects.filter(merchant=merchant, status="done", completed_by=None)
    assert set(ticked.values_list("fact", flat=True)) >= {
        "program_configured",
        "clients_imported",
        "staff_attested",
    }
    shoot(page, "07-hub-facts")
    page.locator("a[href='#tasks']").click()
    check_task_inputs(page)
    shoot(page, "08-checklist")
    page.set_viewport_size(PHONE)
    check_task_inputs(page)
    page.locator("#tasks-group").scroll_into_view_if_needed()
    shoot(page, "08-checklist-phone")
    page.set_viewport_size(DESKTOP)
    # The specialist does the tasks no fact can see and marks them done.
    for select in page.locator(
        "#tasks-group select[name$='-status']:not([name*='__prefix__'])"
    ).all():
        row = select.locator("xpath=ancestor::tr[1]")
        if select.input_value() != "done" and row.locator(".ob-fact").count() == 0:
            select.select_option("done")

    with page.expect_navigation():
        page.locator("button[name=_continue]").first.click()
    assert not merchant.tasks.filter(required=True).exclude(status="done").exists()

    # 8. Launch without an override (the gate reads the saved tasks, so after saving them).
    page.locator("a[href='#general']").click()
    page.select_option("select[name=onboarding_status]", "launched")
    page.locator("button[name=_continue]").first.click()
    page.wait_for_load_state()
    merchant.refresh_from_db()
    assert merchant.onboarding_status == "launched", page.locator(".errorlist").all_inner_texts()
    assert not OnboardingEvent.objects.filter(
        merchant=merchant, kind__in=["launch_override", "fact_override"]
    ).exists()
    shoot(page, "09-launched")

    # 9. The owner sets a password from the e-mail and sees the dashboard.
    page.context.clear_cookies()
    speak_russian(page, base)
    page.goto(f"{base}{link}")
    page.fill("input[name=new_password1]", "Zerno-owner-2025")
    page.fill("input[name=new_password2]", "Zerno-owner-2025")
    page.locator("main form button[type=submit]").click()
    page.goto(f"{base}/dashboard/")
    page.wait_for_url(f"{base}/dashboard/{merchant.slug}/")
    expect(page.locator("h1").first).to_have_text("Кофейня Зерно")
    shoot(page, "10-owner-dashboard")

    # 10. The cashier logs in with the one-time password and records a purchase on a phone.
    page.context.clear_cookies()
    speak_russian(page, base)
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/accounts/login/?next=/dashboard/")
    page.fill("input[name=username]", "anna-zerno")
    page.fill("input[name=password]", cashier_password)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"**/cashier/{merchant.slug}/")
    page.fill("input[name=q]", "+7 913 123-45-67")
    page.locator("#search button[type=submit]").click()
    page.wait_for_selector("#client-card")
    page.fill("input[name=amount]", "450")
    page.select_option("select[name=payment_type]", "card")
    page.locator("#purchase-form button[type=submit]").click()
    page.wait_for_selector(".messages li")
    shoot(page, "11-cashier-phone")
    purchase = Purchase.objects.get(merchant=merchant)
    assert purchase.cashier.user.username == "anna-zerno"


def answer_all(page, module):
    for question in module.questions.prefetch_related("answers"):
        correct = [a for a in question.answers.all() if a.is_correct]
        for answer in correct if question.multiple else correct[:1]:
            page.check(f"input[name='q{question.pk}'][value='{answer.pk}']")


def check_task_inputs(page):
    """The checklist rows' fields are wide enough to read what is in them."""
    # the tab's rows are shown by the admin's script after the click: measure once they are
    page.locator("#tasks-group tr [name$='-status']").first.wait_for(state="visible")
    widths = page.evaluate(
        """() => [...document.querySelectorAll('#tasks-group tr')]
            .filter(tr => tr.querySelector('[name$="-status"]'))
            .slice(0, 5)
            .flatMap(tr => [...tr.querySelectorAll('textarea, input[type=text], select')]
              .filter(el => el.offsetParent !== null)
              .map(el => ({name: el.name, width: el.clientWidth,
                           overflow: el.tagName === 'TEXTAREA' && el.scrollWidth > el.clientWidth})))"""
    )
    assert widths, "no checklist rows"
    for field in widths:
        minimum = 260 if field["name"].endswith("-title") else 100
        assert field["width"] >= minimum and not field["overflow"], field
