# Heartbeats per Celery process: a kind (worker, beat, task) and room for a worker's node name.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0005_roles_nurture'),
    ]

    operations = [
        migrations.AddField(
            model_name='heartbeat',
            name='kind',
            field=models.CharField(choices=[('worker', 'Celery worker'), ('beat', 'Celery beat'), ('task', 'Task')], default='task', max_length=10),
        ),
        migrations.AlterField(
            model_name='heartbeat',
            name='name',
            field=models.CharField(max_length=255, unique=True),
        ),
    ]
