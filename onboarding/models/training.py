"""Training modules, their quizzes, quiz links and the staff's attestations."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .merchants import PERCENT_VALIDATORS, Merchant, StaffMember


class TrainingModule(models.Model):
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="training_modules",
        verbose_name=_("merchant"),
    )
    title = models.CharField(_("title"), max_length=200)
    material = models.TextField(
        _("material"), blank=True, help_text=_("Shown to the staff member above the quiz.")
    )
    pass_threshold_percent = models.DecimalField(
        _("pass threshold, %"),
        max_digits=5,
        decimal_places=2,
        default=80,
        validators=PERCENT_VALIDATORS,
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["merchant", "position", "id"]
        verbose_name = _("training module")
        verbose_name_plural = _("training modules")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "title"], name="uniq_module_title"),
        ]

    def __str__(self) -> str:
        return self.title


class QuizQuestion(models.Model):
    module = models.ForeignKey(
        TrainingModule, on_delete=models.CASCADE, related_name="questions", verbose_name=_("module")
    )
    text = models.CharField(_("question"), max_length=500)
    multiple = models.BooleanField(
        _("several correct answers"),
        default=False,
        help_text=_("Counted correct only when exactly the correct answers are chosen."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["module", "position", "id"]
        verbose_name = _("quiz question")
        verbose_name_plural = _("quiz questions")

    def __str__(self) -> str:
        return self.text


class QuizAnswer(models.Model):
    question = models.ForeignKey(
        QuizQuestion, on_delete=models.CASCADE, related_name="answers", verbose_name=_("question")
    )
    text = models.CharField(_("answer"), max_length=300)
    is_correct = models.BooleanField(_("correct"), default=False)
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["question", "position", "id"]
        verbose_name = _("answer")
        verbose_name_plural = _("answers")

    def __str__(self) -> str:
        return self.text


class QuizLink(models.Model):
    """The shareable, unguessable link through which one staff member takes their quizzes."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="quiz_links"
    )
    staff = models.OneToOneField(
        StaffMember, on_delete=models.CASCADE, related_name="quiz_link", verbose_name=_("staff")
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("quiz link")
        verbose_name_plural = _("quiz links")

    def __str__(self) -> str:
        return f"{self.staff}"


class Attestation(models.Model):
    """One attempt of a staff member at a module's quiz. Retakes add rows; none is edited."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="attestations", verbose_name=_("merchant")
    )
    staff = models.ForeignKey(
        StaffMember, on_delete=models.CASCADE, related_name="attestations", verbose_name=_("staff")
    )
    module = models.ForeignKey(
        TrainingModule,
        on_delete=models.CASCADE,
        related_name="attestations",
        verbose_name=_("module"),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    correct_count = models.PositiveSmallIntegerField(_("correct answers"), default=0)
    question_count = models.PositiveSmallIntegerField(_("questions"), default=0)
    score_percent = models.DecimalField(_("score, %"), max_digits=5, decimal_places=2)
    pass_threshold_percent = models.DecimalField(
        _("pass threshold, %"), max_digits=5, decimal_places=2
    )
    passed = models.BooleanField(_("passed"))
    answers = models.JSONField(_("answers given"), default=dict, blank=True)
    taken_at = models.DateTimeField(_("taken at"), db_index=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        verbose_name = _("attestation")
        verbose_name_plural = _("attestations")
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "module", "attempt"], name="uniq_attestation_attempt"
            ),
            models.CheckConstraint(
                condition=models.Q(score_percent__gte=0, score_percent__lte=100),
                name="attestation_score_0_100",
            ),
        ]
        indexes = [models.Index(fields=["merchant", "staff", "module", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.staff} · {self.module} · {self.score_percent}%"
