"""The scored tables without their own merchant index: every other index of both leads with the
merchant, and a night rewrites a few thousand rows of each with indexed columns changed (no
HOT update), each maintaining every index."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('onboarding', '0013_staff_pos_employee_id_unique'),
        ('reports', '0011_scored_rows_counted'),
    ]

    operations = [
        migrations.AlterField(
            model_name='clientpurchases',
            name='merchant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='onboarding.merchant'),
        ),
        migrations.AlterField(
            model_name='rfmscore',
            name='merchant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='onboarding.merchant'),
        ),
    ]
